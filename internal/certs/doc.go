// Package certs owns the description and loading of client certificates, for both binaries:
// turning a DER chain into the public CertificateInfo shown to users (subject, SANs, fingerprint,
// key type, client-auth use), and turning a normalised chain + PKCS#8 key into a tls.Certificate.
//
// It works only on the normalised form the vault stores (leaf-first DER chain and a PKCS#8 key);
// it never parses PKCS#12 (the controller does that once, at upload) and must never import
// controller code, because the agent links it. Nothing here logs, and errors never contain key
// material.
package certs
