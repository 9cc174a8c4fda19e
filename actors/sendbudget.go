package actors

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// sendBudget is the bot's one allowance of Matrix sends, shared by every
// room: a token bucket sized below the homeserver's rate limit, so that a
// thousand streaming rooms slow their edits down instead of meeting
// M_LIMIT_EXCEEDED. Sends that must happen (a new message, a notice, the
// final text of a reply) wait for their token; a streaming edit, which the
// next one supersedes anyway, is skipped while the budget is spent (see
// roomActor.pump), so a room coalesces more text into its next edit.
//
// Waiters are served in order of arrival: a token is reserved on entry
// (the bucket may go negative) and the caller sleeps until its turn.
type sendBudget struct {
	mu     sync.Mutex
	bucket *tokenBucket
}

func newSendBudget(limit RateLimit) *sendBudget {
	if limit.Rate <= 0 {
		return nil
	}
	return &sendBudget{bucket: newTokenBucket(limit.Rate, limit.Burst, time.Now())}
}

// wait takes a token, sleeping until it is due. A nil budget never waits.
// When ctx ends first the reservation is given back.
func (b *sendBudget) wait(ctx context.Context) error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	due := b.bucket.reserve(time.Now())
	b.mu.Unlock()
	if due <= 0 {
		return nil
	}
	t := time.NewTimer(due)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		b.mu.Lock()
		b.bucket.giveBack()
		b.mu.Unlock()
		return fmt.Errorf("failed to wait for the send budget: %w", context.Cause(ctx))
	}
}

// available reports whether a send now would not wait: a streaming edit
// goes out only then. A nil budget is always available.
func (b *sendBudget) available() bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bucket.available(time.Now())
}

// budgetedMatrix puts the send budget in front of every call that posts an
// event in a room (messages, edits, notices, reactions): the calls a
// homeserver rate-limits. Typing, receipts and room management pass.
type budgetedMatrix struct {
	Matrix
	budget *sendBudget
}

func (m budgetedMatrix) SendNotice(ctx context.Context, roomID, text string) (string, error) {
	if err := m.budget.wait(ctx); err != nil {
		return "", err
	}
	return m.Matrix.SendNotice(ctx, roomID, text)
}

func (m budgetedMatrix) SendText(ctx context.Context, roomID, markdown string) (string, error) {
	if err := m.budget.wait(ctx); err != nil {
		return "", err
	}
	return m.Matrix.SendText(ctx, roomID, markdown)
}

func (m budgetedMatrix) EditText(ctx context.Context, roomID, eventID, markdown string) error {
	if err := m.budget.wait(ctx); err != nil {
		return err
	}
	return m.Matrix.EditText(ctx, roomID, eventID, markdown)
}

func (m budgetedMatrix) SendReaction(ctx context.Context, roomID, eventID, key string) error {
	if err := m.budget.wait(ctx); err != nil {
		return err
	}
	return m.Matrix.SendReaction(ctx, roomID, eventID, key)
}

func (m budgetedMatrix) SendFile(ctx context.Context, roomID string, f OutgoingFile) (string, error) {
	if err := m.budget.wait(ctx); err != nil {
		return "", err
	}
	return m.Matrix.SendFile(ctx, roomID, f)
}
