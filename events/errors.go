package events

import "errors"

var (
	// ErrInvalidName: a cluster or consumer name cannot be used as a subject token.
	ErrInvalidName = errors.New("events: invalid name")
	// ErrNotCloudEvent: a message lacks the ce-specversion header of binary mode.
	ErrNotCloudEvent = errors.New("events: not a binary-mode cloudevent")
	// ErrUnknownType: a message's ce-type does not match the payload expected on its subject.
	ErrUnknownType = errors.New("events: unexpected event type")
)
