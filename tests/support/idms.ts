// What oc-mirror v2 writes to working-dir/cluster-resources/idms-oc-mirror.yaml (the shape of a real one), for
// a registry at `host`: the release mirrors and, with `operators`, one operator mirror with a source policy.
export function ocMirrorIdms(host: string, opts: { operators?: boolean } = {}): string {
  const operators = opts.operators
    ? `  - mirrors:
    - ${host}/openshift-operators/redhat
    source: registry.redhat.io/redhat
    mirrorSourcePolicy: NeverContactSource
`
    : "";
  return `apiVersion: config.openshift.io/v1
kind: ImageDigestMirrorSet
metadata:
  name: idms-release-0
spec:
  imageDigestMirrors:
  - mirrors:
    - ${host}/openshift-release/openshift/release
    source: quay.io/openshift-release-dev/ocp-v4.0-art-dev
  - mirrors:
    - ${host}/openshift-release/openshift/release-images
    source: quay.io/openshift-release-dev/ocp-release
${operators}status: {}
`;
}
