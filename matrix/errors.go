package matrix

import "errors"

var (
	// ErrLogin: the homeserver refused the credentials.
	ErrLogin = errors.New("matrix login failed")
	// ErrUnreachable: the homeserver could not be reached.
	ErrUnreachable = errors.New("matrix homeserver unreachable")
	// ErrTooLarge: an event would exceed the homeserver's 64 KiB limit even
	// without its formatted body.
	ErrTooLarge = errors.New("event too large")
)
