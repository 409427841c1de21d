package vault

import "errors"

// InputError is a problem with what the user supplied (an archive, a name, a password). Its
// message says what was wrong and what to do, never contains a password, and maps to gRPC
// InvalidArgument.
type InputError struct {
	Msg  string
	Kind error // a sentinel such as ErrWrongPassword, for errors.Is; nil for most
}

func (e *InputError) Error() string { return e.Msg }

func (e *InputError) Unwrap() error { return e.Kind }

func inputError(msg string) *InputError { return &InputError{Msg: msg} }

var (
	// ErrNotFound is returned, wrapped with the item's name, when no item has that name or ID.
	ErrNotFound = errors.New("not found")
	// ErrExists is returned, wrapped with the item's name, when the name is taken.
	ErrExists = errors.New("already exists")
	// ErrIntegrity is returned, wrapped with the item's name, when sealed material does not open:
	// it was altered, or copied from another item or version.
	ErrIntegrity = errors.New("secret integrity check failed")
	// ErrMasterKeyMismatch is returned by Open when the master key is not the one the keyring
	// was created with.
	ErrMasterKeyMismatch = errors.New("master key does not match this data dir")
	// ErrBusy is returned by ImportPKCS12 when other decodes hold every slot for longer than
	// SlotWait. It is transient: retry later.
	ErrBusy = errors.New("too many certificate archives are being decoded; try again shortly")
	// ErrWrongPassword is the Kind of the InputError of an archive whose password is incorrect.
	ErrWrongPassword = errors.New("archive password is incorrect")
)
