package rag

import (
	"context"
	"errors"
)

// Sentinel errors that callers test with errors.Is. A server maps them to
// HTTP statuses: ErrNotFound 404; ErrLocked, ErrClosed and ErrReadOnly 409;
// ErrTooLarge 413; ErrUnsupported 415 (or 422 for a file whose text cannot
// be found); ErrBadFile 422; ErrExists 409; anything else 500.
var (
	// ErrNotFound: the knowledge base (or document) does not exist.
	ErrNotFound = errors.New("not found")

	// ErrLocked: another process (a 'ragtune ingest', another server)
	// holds the knowledge base's writer lock.
	ErrLocked = errors.New("knowledge base is locked by another writer")

	// ErrClosed: the store was closed (its knowledge base deleted, the
	// server shutting down) while a request still held it.
	ErrClosed = errors.New("knowledge base is closed")

	// ErrReadOnly: a write to a store opened read-only.
	ErrReadOnly = errors.New("knowledge base is open read-only")

	// ErrBadFile: a file is corrupt or not what its extension says.
	ErrBadFile = errors.New("file cannot be read")

	// ErrExists: creating a knowledge base that already exists.
	ErrExists = errors.New("already exists")
)

// ErrNoKB means the directory holds no knowledge base; it matches
// ErrNotFound too.
var ErrNoKB error = &childError{"no knowledge base", ErrNotFound}

// childError is a sentinel that also matches a more general one.
type childError struct {
	msg    string
	parent error
}

func (e *childError) Error() string { return e.msg }
func (e *childError) Unwrap() error { return e.parent }

// Error is a knowledge-base failure that may travel to a remote client.
// Error() is the full detail for logs and the command line, and may name
// server directories; Public is a message safe to send over the network.
type Error struct {
	Kind   error  // one of the sentinels above (or ErrTooLarge, ErrUnsupported, a context error); nil for other failures
	File   string // the document concerned, by the caller's name for it, when one is
	Public string // what a remote client may see
	Err    error  // the cause, in full
}

func (e *Error) Error() string { return e.Err.Error() }

// Unwrap exposes both the kind and the cause to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	if e.Kind == nil {
		return []error{e.Err}
	}
	return []error{e.Kind, e.Err}
}

// PublicMessage returns a message for err that is safe to show a remote
// client: the Public text of the first *Error in its chain, a
// *TooLargeError's own text (it names files by base name only), or a
// generic sentence for anything else.
func PublicMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Public != "" {
		return e.Public
	}
	var tl *TooLargeError
	if errors.As(err, &tl) {
		return tl.Error()
	}
	switch {
	case errors.Is(err, context.Canceled):
		return "the request was cancelled"
	case errors.Is(err, context.DeadlineExceeded):
		return "the request took too long"
	}
	return "internal error in the knowledge base (details are in the server log)"
}

// storeError wraps a failure to write the knowledge base itself (disk
// full, I/O error): the detail names files, the public text does not.
func storeError(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Public: "could not write to the knowledge base (disk full or I/O error; details are in the server log)", Err: err}
}
