// Package suggest finds the word a person probably meant ("did you mean …")
// among the words a command line or a file accepts.
//
// It owns only the comparison of short words. It must never decide whether
// input is valid: callers do that, then ask for a suggestion to add to their
// own error message.
package suggest
