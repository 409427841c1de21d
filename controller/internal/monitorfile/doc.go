// Package monitorfile reads and writes monitor files, the YAML form of a
// lookoutv1.Monitor that users keep in version control and apply with
// `monitor apply`.
//
// The format is strict: an unknown field, a value of the wrong kind, an
// unknown enum word or a malformed duration is an error naming the field's
// path and line ("steps[1].request.bogus: unknown field (line 14)"). Parse
// reports every such problem at once; when the file decodes cleanly it applies
// the defaults and returns the problems lookoutv1.Monitor.Validate finds,
// again with paths and lines. Format writes a Monitor back as a file that
// Parse reads to the same Monitor.
//
// Fields that name vault secrets and files (secret_variables, body_file,
// multipart file, tls.ca_bundle_file) are checked here too, since Validate
// does not know them: valid secret variable names that collide with no plain
// or automatic variable, and body_file / file exclusive with the other bodies
// and values. VaultRefs lists every vault item a monitor names, with its path
// and the item type the field needs.
//
// The package only translates; it never talks to the vault, the store or any
// checkpoint, and so cannot check that named credentials or checkpoints exist:
// the controller does, and adds lines to its errors with AddLines.
package monitorfile
