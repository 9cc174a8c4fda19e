package kit

import "github.com/surfaces-bot/surfaces/actors"

// StagingEnded tells the user actor a room finished receiving a file: its
// reservation ends, and Att (nil when the file was refused or failed) is
// in the room's record.
type StagingEnded struct {
	RoomID  string
	EventID string
	Att     *actors.Attachment
}

// Handover asks a room actor to finish the turn it runs, start no other,
// and stop: its grain moves to another member of the cluster, where the
// room's next activation runs what stays queued in its record.
type Handover struct{}
