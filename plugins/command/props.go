package main

import (
	"fmt"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"golang.org/x/crypto/ssh"
)

// Property names, as the @pulumi/command 1.2.1 SDK sends them.
const (
	pConnection  = "connection"
	pCreate      = "create"
	pUpdate      = "update"
	pDelete      = "delete"
	pEnvironment = "environment"
	pStdin       = "stdin"
	pTriggers    = "triggers"
	pLogging     = "logging"
	pAddPrev     = "addPreviousOutputInEnv"
	pStdout      = "stdout"
	pStderr      = "stderr"
	pSource      = "source"
	pRemotePath  = "remotePath"
)

// commandInputKeys are the inputs of command:remote:Command; only triggers replaces.
var commandInputKeys = []string{pAddPrev, pConnection, pCreate, pDelete, pEnvironment, pLogging, pStdin, pTriggers, pUpdate}

// copyInputKeys are the inputs of command:remote:CopyToRemote; only triggers replaces.
var copyInputKeys = []string{pConnection, pRemotePath, pSource, pTriggers}

// unsecret removes secret markers at any depth.
func unsecret(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return unsecret(v.SecretValue().Element)
	case v.IsOutput():
		return unsecret(v.OutputValue().Element)
	case v.IsObject():
		m := resource.PropertyMap{}
		for k, e := range v.ObjectValue() {
			m[k] = unsecret(e)
		}
		return resource.NewObjectProperty(m)
	case v.IsArray():
		a := make([]resource.PropertyValue, len(v.ArrayValue()))
		for i, e := range v.ArrayValue() {
			a[i] = unsecret(e)
		}
		return resource.NewArrayProperty(a)
	}
	return v
}

// isSecret: the value is secret at its top level (or an output marked secret).
func isSecret(v resource.PropertyValue) bool {
	return v.IsSecret() || (v.IsOutput() && v.OutputValue().Secret)
}

// collectSecrets adds every string that sits inside a secret to r.
func collectSecrets(v resource.PropertyValue, inSecret bool, r *redactor) {
	if isSecret(v) {
		inSecret = true
	}
	switch u := v; {
	case u.IsSecret():
		collectSecrets(u.SecretValue().Element, inSecret, r)
	case u.IsOutput():
		collectSecrets(u.OutputValue().Element, inSecret, r)
	case u.IsString():
		if inSecret {
			r.add(u.StringValue(), true)
		}
	case u.IsObject():
		for k, e := range u.ObjectValue() {
			if k == "agentSocketPath" && !isSecret(e) {
				// A socket's path, inside a secret only because the SDK marks the whole connection secret:
				// kept readable, so "no SSH agent answers at <path>" names it.
				collectSecrets(e, false, r)
				continue
			}
			collectSecrets(e, inSecret, r)
		}
	case u.IsArray():
		for _, e := range u.ArrayValue() {
			collectSecrets(e, inSecret, r)
		}
	}
}

func secretsOf(m resource.PropertyMap) *redactor {
	r := &redactor{}
	for _, v := range m {
		collectSecrets(v, false, r)
	}
	return r
}

func present(m resource.PropertyMap, key string) (resource.PropertyValue, bool) {
	v, ok := m[resource.PropertyKey(key)]
	if !ok || v.IsNull() {
		return resource.PropertyValue{}, false
	}
	return v, true
}

func optString(m resource.PropertyMap, key string) (*string, bool, error) {
	v, ok := present(m, key)
	if !ok {
		return nil, false, nil
	}
	secret := isSecret(v)
	v = unsecret(v)
	if v.IsNull() {
		return nil, false, nil
	}
	if !v.IsString() {
		return nil, false, fmt.Errorf("%s must be a string, not %s", key, v.TypeString())
	}
	s := v.StringValue()
	return &s, secret, nil
}

func optBool(m resource.PropertyMap, key string) (*bool, error) {
	v, ok := present(m, key)
	if !ok {
		return nil, nil
	}
	v = unsecret(v)
	if !v.IsBool() {
		return nil, fmt.Errorf("%s must be a boolean, not %s", key, v.TypeString())
	}
	b := v.BoolValue()
	return &b, nil
}

func optInt(m resource.PropertyMap, key string, def int) (int, error) {
	v, ok := present(m, key)
	if !ok {
		return def, nil
	}
	v = unsecret(v)
	if !v.IsNumber() {
		return 0, fmt.Errorf("%s must be a number, not %s", key, v.TypeString())
	}
	n := v.NumberValue()
	if n != float64(int(n)) {
		return 0, fmt.Errorf("%s must be an integer", key)
	}
	return int(n), nil
}

// decodeConnection reads a connection (or proxy) object; secrets already may be anywhere inside.
func decodeConnection(v resource.PropertyValue, what string, allowProxy bool) (*Connection, error) {
	v = unsecret(v)
	if !v.IsObject() {
		return nil, fmt.Errorf("%s must be an object, not %s", what, v.TypeString())
	}
	m := v.ObjectValue()
	c := &Connection{}
	var err error
	str := func(key string, dst *string) {
		if err != nil {
			return
		}
		var s *string
		if s, _, err = optString(m, key); err != nil {
			err = fmt.Errorf("%s.%w", what, err)
		} else if s != nil {
			*dst = *s
		}
	}
	str("host", &c.Host)
	str("user", &c.User)
	str("password", &c.Password)
	str("privateKey", &c.PrivateKey)
	str("privateKeyPassword", &c.PrivateKeyPassword)
	str("agentSocketPath", &c.AgentSocketPath)
	str("hostKey", &c.HostKey)
	if err != nil {
		return nil, err
	}
	if c.User == "" {
		c.User = defaultUser
	}
	if c.Port, err = optInt(m, "port", defaultPort); err != nil {
		return nil, fmt.Errorf("%s.%w", what, err)
	}
	if c.DialErrorLimit, err = optInt(m, "dialErrorLimit", defaultDialErrorLimit); err != nil {
		return nil, fmt.Errorf("%s.%w", what, err)
	}
	if c.PerDialTimeout, err = optInt(m, "perDialTimeout", defaultPerDialTimeout); err != nil {
		return nil, fmt.Errorf("%s.%w", what, err)
	}
	c.what = what
	if c.Host == "" {
		return nil, fmt.Errorf("%s.host is required", what)
	}
	if c.HostKey == "" {
		return nil, fmt.Errorf("%s.hostKey is required: the host's key is never trusted unchecked — %s", what, hostKeyFix)
	}
	if !c.tofu() {
		if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(c.HostKey)); err != nil {
			return nil, fmt.Errorf("%s.hostKey must be one public key in authorized_keys format (`ssh-ed25519 AAAA…`) or %q: %w", what, TrustOnFirstUse, err)
		}
	}
	if c.Port < 1 || c.Port > 65535 {
		return nil, fmt.Errorf("%s.port %d is out of range", what, c.Port)
	}
	if c.DialErrorLimit < -1 {
		return nil, fmt.Errorf("%s.dialErrorLimit must be -1 (unlimited) or more", what)
	}
	if c.PerDialTimeout < 0 {
		return nil, fmt.Errorf("%s.perDialTimeout must not be negative", what)
	}
	if p, ok := present(m, "proxy"); ok {
		if !allowProxy {
			return nil, fmt.Errorf("%s.proxy is not allowed here", what)
		}
		if c.Proxy, err = decodeConnection(p, what+".proxy", false); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// connectionDefaults fills port, user, dialErrorLimit and perDialTimeout (as the SDK's
// connectionArgsProvideDefaults does) in a connection value that is fully known; secretness is kept.
func connectionDefaults(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return resource.MakeSecret(connectionDefaults(v.SecretValue().Element))
	case !v.IsObject():
		return v
	}
	m := v.ObjectValue().Copy()
	set := func(k string, d resource.PropertyValue) {
		if e, ok := m[resource.PropertyKey(k)]; !ok || e.IsNull() {
			m[resource.PropertyKey(k)] = d
		}
	}
	set("port", resource.NewProperty(float64(defaultPort)))
	set("user", resource.NewProperty(defaultUser))
	set("dialErrorLimit", resource.NewProperty(float64(defaultDialErrorLimit)))
	set("perDialTimeout", resource.NewProperty(float64(defaultPerDialTimeout)))
	if p, ok := m["proxy"]; ok && !p.IsNull() {
		m["proxy"] = connectionDefaults(p)
	}
	return resource.NewObjectProperty(m)
}

// commandInputs are the decoded inputs of command:remote:Command (all known).
type commandInputs struct {
	Conn                   *Connection
	Create, Update, Delete *string
	CreateSecret           bool
	UpdateSecret           bool
	DeleteSecret           bool
	Environment            map[string]string
	Stdin                  *string
	Logging                Logging
	AddPreviousOutputInEnv bool
	Redact                 *redactor
}

func decodeCommand(m resource.PropertyMap) (*commandInputs, error) {
	in := &commandInputs{Redact: secretsOf(m), AddPreviousOutputInEnv: true}
	cv, ok := present(m, pConnection)
	if !ok {
		return nil, fmt.Errorf("missing required property %q", pConnection)
	}
	var err error
	if in.Conn, err = decodeConnection(cv, pConnection, true); err != nil {
		return nil, err
	}
	if in.Create, in.CreateSecret, err = optString(m, pCreate); err != nil {
		return nil, err
	}
	if in.Update, in.UpdateSecret, err = optString(m, pUpdate); err != nil {
		return nil, err
	}
	if in.Delete, in.DeleteSecret, err = optString(m, pDelete); err != nil {
		return nil, err
	}
	if in.Stdin, _, err = optString(m, pStdin); err != nil {
		return nil, err
	}
	if l, _, err := optString(m, pLogging); err != nil {
		return nil, err
	} else if l != nil {
		in.Logging = Logging(*l)
		if !in.Logging.valid() {
			return nil, fmt.Errorf("logging must be one of stdout, stderr, stdoutAndStderr, none; not %q", *l)
		}
	}
	if b, err := optBool(m, pAddPrev); err != nil {
		return nil, err
	} else if b != nil {
		in.AddPreviousOutputInEnv = *b
	}
	if ev, ok := present(m, pEnvironment); ok {
		ev = unsecret(ev)
		if !ev.IsObject() {
			return nil, fmt.Errorf("environment must be a map of strings, not %s", ev.TypeString())
		}
		in.Environment = map[string]string{}
		for k, v := range ev.ObjectValue() {
			if v.IsNull() {
				continue
			}
			if !v.IsString() {
				return nil, fmt.Errorf("environment[%q] must be a string, not %s", string(k), v.TypeString())
			}
			in.Environment[string(k)] = v.StringValue()
		}
	}
	return in, nil
}

// copyInputs are the decoded inputs of command:remote:CopyToRemote (all known).
type copyInputs struct {
	Conn       *Connection
	Source     copySource
	RemotePath string
}

func decodeCopy(m resource.PropertyMap) (*copyInputs, error) {
	in := &copyInputs{}
	cv, ok := present(m, pConnection)
	if !ok {
		return nil, fmt.Errorf("missing required property %q", pConnection)
	}
	var err error
	if in.Conn, err = decodeConnection(cv, pConnection, true); err != nil {
		return nil, err
	}
	rp, _, err := optString(m, pRemotePath)
	if err != nil {
		return nil, err
	}
	if rp == nil || *rp == "" {
		return nil, fmt.Errorf("missing required property %q", pRemotePath)
	}
	in.RemotePath = *rp
	sv, ok := present(m, pSource)
	if !ok {
		return nil, fmt.Errorf("missing required property %q", pSource)
	}
	sv = unsecret(sv)
	switch {
	case sv.IsAsset():
		in.Source.Asset = sv.AssetValue()
	case sv.IsArchive():
		in.Source.Archive = sv.ArchiveValue()
	default:
		return nil, fmt.Errorf("source must be an asset or an archive, not %s", sv.TypeString())
	}
	if err := in.Source.validate(); err != nil {
		return nil, err
	}
	return in, nil
}

// changedKeys lists the input keys whose values differ between olds and news (secretness ignored;
// an unknown new value counts as a change).
func changedKeys(olds, news resource.PropertyMap, keys []string) []string {
	var out []string
	for _, k := range keys {
		o, oOK := present(olds, k)
		n, nOK := present(news, k)
		switch {
		case !oOK && !nOK:
			continue
		case oOK != nOK:
			out = append(out, k)
		case n.ContainsUnknowns():
			out = append(out, k)
		case !unsecret(o).DeepEquals(unsecret(n)):
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// withConnectionSecret returns m with the connection marked secret (additionalSecretOutputs).
func withConnectionSecret(m resource.PropertyMap) resource.PropertyMap {
	if v, ok := m[pConnection]; ok && !v.IsNull() && !isSecret(v) && !v.IsComputed() {
		m[pConnection] = resource.MakeSecret(v)
	}
	return m
}
