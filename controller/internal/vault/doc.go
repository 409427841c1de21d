// Package vault owns the controller's vault items — client certificate archives, credential
// sets, secrets and files — and their encryption at rest.
//
// Upload pipeline (ImportPKCS12, a pure function): size cap (256 KiB) → sniff (DER; PEM or base64
// text is decoded once; BER gets a re-export hint) → iteration-count pre-scan → decode with
// go-pkcs12 under a CPU-time budget → pick the leaf by matching the private key against every
// certificate → order the chain leaf → issuers → check the key type. What is stored is the
// normalised chain (DER) and the PKCS#8 key; the archive and its password are not kept.
//
// Key-derivation cost is chosen by whoever uploads an archive, and go-pkcs12 has no cap, so the
// pre-scan reads the iteration counts of the MAC, of each encrypted safe and of each shrouded key
// bag it can reach (encoding/asn1, before any derivation runs) and refuses an archive that asks
// for more than 600,000 iterations in one derivation or 2,000,000 in total (the legacy PKCS#12
// ciphers derive key and IV separately, so they count twice). .NET caps at 300,000 and
// 1,000,000; ours leave room for archives exported with OWASP-level PBKDF2 counts. A key bag
// hidden inside an encrypted safe cannot be read before decryption, so the decode also runs under
// a budget of 10 s of CPU time (its own thread's, so a loaded machine does not make an ordinary
// archive fail), with at most two decodes at once (an abandoned decode keeps its slot until it
// ends) and an upload waiting at most 10 s for a slot before it is told to try again.
//
// Secrets and files (items.go) need no decoding. A secret is a UTF-8 value of 1 byte to 64 KiB
// (MaxSecretSize), used by monitors as a variable that is redacted from results. A file is 1 byte
// to 1 MiB (MaxFileSize) of content with a filename (default: the item name) and a content type
// (default: sniffed with net/http.DetectContentType); its metadata (FileInfo: filename, type,
// size, SHA-256) is public, its content is sealed like every other item's material.
//
// At rest: a 32-byte master key (a file, mode 0600) wraps a random data key kept in the bbolt
// bucket "keyring", next to a check value that tells a wrong master key from a damaged keyring.
// Item metadata (VaultItem, never secret) is stored in clear in bucket "vault_items"; the material
// (RunSecret) is sealed with AES-256-GCM under the data key, with the record's bucket, key and
// version as additional data, so a record copied to another item or version does not open.
//
// Read methods (List, Get) return metadata only and never secret material: archive bytes,
// passwords and keys leave the vault only through Material, which is for the controller's
// FetchRunSecrets. Nothing here logs.
package vault
