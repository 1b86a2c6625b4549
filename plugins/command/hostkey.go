package main

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"golang.org/x/crypto/ssh"
)

// Trust-on-first-use in the resource's life (see TrustOnFirstUse):
//   - preview of a Create: the outputs' hostKey is unknown (the key is learned when the host is reached);
//   - Create: recordOfferedHostKeys puts the key the host offered in the outputs and warns with its fingerprint;
//   - Diff and Update: pinRecordedHostKeys puts the recorded key (olds) in place of the marker (news), so
//     the marker is no change and the update requires the recorded key. Delete reads the state: the key.

// editHostKeys returns the connection value v with f applied to its hostKey and to its proxy's hostKey
// (f gets a null value for a missing key and returns null to leave it out). Secretness is kept.
func editHostKeys(v resource.PropertyValue, f func(proxy bool, cur resource.PropertyValue) resource.PropertyValue) resource.PropertyValue {
	return editHostKeysAt(v, false, f)
}

func editHostKeysAt(v resource.PropertyValue, proxy bool, f func(bool, resource.PropertyValue) resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return resource.MakeSecret(editHostKeysAt(v.SecretValue().Element, proxy, f))
	case !v.IsObject():
		return v
	}
	m := v.ObjectValue().Copy()
	if nv := f(proxy, m["hostKey"]); nv.IsNull() {
		delete(m, "hostKey")
	} else {
		m["hostKey"] = nv
	}
	if p, ok := m["proxy"]; ok && !proxy && !p.IsNull() {
		m["proxy"] = editHostKeysAt(p, true, f)
	}
	return resource.NewObjectProperty(m)
}

// isTOFU: the value is the trust-on-first-use marker (secret or not).
func isTOFU(v resource.PropertyValue) bool {
	u := unsecret(v)
	return u.IsString() && u.StringValue() == TrustOnFirstUse
}

// pinRecordedHostKeys: news with the hostKeys the state recorded (olds) in place of the trust-on-first-use
// marker. A recorded key always wins, even when the host changed: a new host needs a new resource (the
// QuayHost component replaces its host-key resource when host or port change) or a pinned key.
func pinRecordedHostKeys(olds, news resource.PropertyMap) resource.PropertyMap {
	oc, ok := present(olds, pConnection)
	nc, ok2 := present(news, pConnection)
	if !ok || !ok2 || nc.ContainsUnknowns() {
		return news
	}
	recorded := map[bool]resource.PropertyValue{}
	editHostKeys(oc, func(proxy bool, cur resource.PropertyValue) resource.PropertyValue {
		if u := unsecret(cur); u.IsString() && u.StringValue() != "" && !isTOFU(u) {
			recorded[proxy] = cur
		}
		return cur
	})
	if len(recorded) == 0 {
		return news
	}
	out := news.Copy()
	out[pConnection] = editHostKeys(nc, func(proxy bool, cur resource.PropertyValue) resource.PropertyValue {
		if r, ok := recorded[proxy]; ok && isTOFU(cur) {
			return r
		}
		return cur
	})
	return out
}

// previewHostKeys: outputs of a previewed Create, with the trust-on-first-use hostKeys unknown.
func previewHostKeys(outs resource.PropertyMap) resource.PropertyMap {
	if c, ok := present(outs, pConnection); ok {
		outs[pConnection] = editHostKeys(c, func(_ bool, cur resource.PropertyValue) resource.PropertyValue {
			if isTOFU(cur) {
				return resource.MakeComputed(resource.NewProperty(""))
			}
			return cur
		})
	}
	return outs
}

// recordOfferedHostKeys: outputs with the keys conn's trust-on-first-use hops were offered, each announced by
// a warning naming its fingerprint.
func recordOfferedHostKeys(outs resource.PropertyMap, conn *Connection, warn func(string)) resource.PropertyMap {
	c, ok := present(outs, pConnection)
	if !ok || conn == nil {
		return outs
	}
	outs[pConnection] = editHostKeys(c, func(proxy bool, cur resource.PropertyValue) resource.PropertyValue {
		hop := conn
		if proxy {
			hop = conn.Proxy
		}
		if hop == nil || !hop.tofu() || hop.offered == nil || !isTOFU(cur) {
			return cur
		}
		if warn != nil {
			warn(tofuWarning(hop))
		}
		return resource.NewProperty(hop.offeredKey())
	})
	return outs
}

func tofuWarning(hop *Connection) string {
	return fmt.Sprintf("%s.hostKey is %s: accepted the host key %s %s that %s offered WITHOUT verifying it, and pinned it "+
		"(recorded in this resource's state: later operations require this key). Check the fingerprint on the host's console "+
		"(ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub) and pin the key in the configuration",
		hop.name(), TrustOnFirstUse, hop.offered.Type(), ssh.FingerprintSHA256(hop.offered), hop.address(), keyFileType(hop.offered.Type()))
}

// keyFileType: the file name part of /etc/ssh/ssh_host_<type>_key.pub for a key type.
func keyFileType(t string) string {
	switch t {
	case ssh.KeyAlgoED25519:
		return "ed25519"
	case ssh.KeyAlgoRSA:
		return "rsa"
	default:
		return "ecdsa"
	}
}
