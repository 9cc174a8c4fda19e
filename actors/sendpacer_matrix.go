package actors

import (
	"context"
)

// Paced returns m with p in front of every call that posts an event in a
// room (see pacedMatrix).
func (p *SendPacer) Paced(m Matrix) Matrix { return pacedMatrix{Matrix: m, pacer: p} }

// pacedMatrix puts the send pacer in front of every call that posts an
// event in a room (messages, edits, notices, reactions, files): the calls a
// homeserver rate-limits. Typing, receipts and room management pass.
type pacedMatrix struct {
	Matrix
	pacer *SendPacer
}

func (m pacedMatrix) SendNotice(ctx context.Context, roomID, text string) (string, error) {
	if err := m.pacer.wait(ctx, roomID); err != nil {
		return "", err
	}
	id, err := m.Matrix.SendNotice(ctx, roomID, text)
	m.done(err)
	return id, err
}

func (m pacedMatrix) SendText(ctx context.Context, roomID, markdown string) (string, error) {
	if err := m.pacer.wait(ctx, roomID); err != nil {
		return "", err
	}
	id, err := m.Matrix.SendText(ctx, roomID, markdown)
	m.done(err)
	return id, err
}

func (m pacedMatrix) EditText(ctx context.Context, roomID, eventID, markdown string) error {
	if err := m.pacer.wait(ctx, roomID); err != nil {
		return err
	}
	err := m.Matrix.EditText(ctx, roomID, eventID, markdown)
	m.done(err)
	return err
}

func (m pacedMatrix) SendReaction(ctx context.Context, roomID, eventID, key string) error {
	if err := m.pacer.wait(ctx, roomID); err != nil {
		return err
	}
	err := m.Matrix.SendReaction(ctx, roomID, eventID, key)
	m.done(err)
	return err
}

func (m pacedMatrix) SendFile(ctx context.Context, roomID string, f OutgoingFile) (string, error) {
	if err := m.pacer.wait(ctx, roomID); err != nil {
		return "", err
	}
	id, err := m.Matrix.SendFile(ctx, roomID, f)
	m.done(err)
	return id, err
}

// done tells the pacer a post was accepted (it speeds up again after
// 429s); the 429s themselves reach it from the Matrix transport
// (SendPacer.RateLimited), which sees them even when a retry succeeds.
func (m pacedMatrix) done(err error) {
	if err == nil && m.pacer != nil {
		m.pacer.accept()
	}
}
