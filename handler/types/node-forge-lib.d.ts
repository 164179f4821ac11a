// node-forge's ASN.1 reader and byte buffer on their own: the package index also loads TLS, PKI and
// ciphers, about 10 ms at every enable. Each file exports its namespace (module.exports = forge.x).
declare module 'node-forge/lib/asn1.js' {
  import type forge from 'node-forge';
  const asn1: typeof forge.asn1;
  export default asn1;
}
declare module 'node-forge/lib/util.js' {
  import type forge from 'node-forge';
  const util: typeof forge.util;
  export default util;
}
