// Package channelfile reads notification channel files (YAML, strict like monitor files: unknown
// fields are errors naming their path) into lookoutv1.Channel, and checks the rules a channel
// must keep on its own. Whether the vault secrets it names exist is the controller's check.
//
// It never holds a secret value: a channel names vault secret items only.
package channelfile
