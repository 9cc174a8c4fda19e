package actortest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/test/wait"
)

// Call is one recorded call to a fake port.
type Call struct {
	// Seq is the call's position in the log, from 1.
	Seq int
	// Method is the port method's name ("SendNotice", "EditText", ...).
	Method  string
	RoomID  string
	EventID string
	Text    string
	UserIDs []string
	Typing  bool
	// Ends is the user's message whose reply the post ends (EndingReply).
	Ends string
}

// Matrix is a fake actors.Matrix that records every call, answers with
// generated ids, and can be told to fail a method.
type Matrix struct {
	mu     sync.Mutex
	calls  []Call
	notify chan struct{}
	nextID int
	fail   map[string]error
	// block, when set for a method, holds its calls until the channel is closed.
	block map[string]chan struct{}
	// limit, when set, refuses posts beyond a homeserver-like rate limit.
	limit    *limiter
	exceeded int
	// rooms is the homeserver's state of the rooms the bot is in, and
	// reserved the platform_chat_id mark in its account data (see stateevents.go).
	rooms    map[string]*actors.RoomState
	reserved uint64
	// stateReads are the rooms RoomState read, in order.
	stateReads []string
	// media is the content repository, files what SendFile posted (media.go).
	media map[string][]byte
	files []SentFile
	// commands are the command names each room describes (Commands).
	commands map[string][]string
}

// ErrLimitExceeded is what a rate-limited fake returns for a post over its
// limit, as a homeserver answers M_LIMIT_EXCEEDED.
var ErrLimitExceeded = errors.New("M_LIMIT_EXCEEDED: too many requests")

// limited are the methods a homeserver rate-limits: each posts an event.
var limited = []string{"SendNotice", "SendText", "EditText", "SendReaction"}

// limiter is a homeserver's per-user message limit: burst events at once,
// then rate per second.
type limiter struct {
	rate, tokens, burst float64
	last                time.Time
}

// RateLimit makes the fake refuse, with ErrLimitExceeded and without
// recording the call, every post (SendNotice, SendText, EditText,
// SendReaction) beyond burst at once and rate per second, as a homeserver's
// rate limit does. Exceeded counts the refusals.
func (m *Matrix) RateLimit(rate float64, burst int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.limit = &limiter{rate: rate, tokens: float64(burst), burst: float64(burst), last: time.Now()}
}

// Exceeded is how many posts the rate limit refused.
func (m *Matrix) Exceeded() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.exceeded
}

// overLimit takes a token for a rate-limited call; m.mu is held.
func (m *Matrix) overLimit(method string) bool {
	l := m.limit
	if l == nil || !slices.Contains(limited, method) {
		return false
	}
	now := time.Now()
	l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
	if l.tokens < 1 {
		m.exceeded++
		return true
	}
	l.tokens--
	return false
}

var _ actors.Matrix = (*Matrix)(nil)

// NewMatrix returns an empty fake.
func NewMatrix() *Matrix {
	return &Matrix{notify: make(chan struct{}), fail: map[string]error{}, block: map[string]chan struct{}{}}
}

// Fail makes every later call of method return err (nil clears it).
func (m *Matrix) Fail(method string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err == nil {
		delete(m.fail, method)
	} else {
		m.fail[method] = err
	}
}

// Block holds every later call of method until the returned func is called.
func (m *Matrix) Block(method string) (release func()) {
	ch := make(chan struct{})
	m.mu.Lock()
	m.block[method] = ch
	m.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			m.mu.Lock()
			delete(m.block, method)
			m.mu.Unlock()
			close(ch)
		})
	}
}

// wait holds a call of method while it is blocked (Block), or until ctx
// ends.
func (m *Matrix) wait(ctx context.Context, method string) error {
	m.mu.Lock()
	ch := m.block[method]
	m.mu.Unlock()
	if ch == nil {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m *Matrix) record(ctx context.Context, c Call) (string, error) {
	if err := m.wait(ctx, c.Method); err != nil {
		return "", err
	}
	// Read once the call may go on: a post's mark can be set while it
	// waits (see actors.ReplyEnd).
	c.Ends = actors.ReplyEndOf(ctx)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.overLimit(c.Method) {
		return "", ErrLimitExceeded
	}
	m.nextID++
	id := fmt.Sprintf("$fake%d", m.nextID)
	if c.EventID == "" {
		c.EventID = id
	}
	c.Seq = len(m.calls) + 1
	m.calls = append(m.calls, c)
	close(m.notify)
	m.notify = make(chan struct{})
	return id, m.fail[c.Method]
}

// Calls returns a copy of every call so far, in order; methods filters by
// name when given.
func (m *Matrix) Calls(methods ...string) []Call {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Call
	for _, c := range m.calls {
		if len(methods) == 0 || slices.Contains(methods, c.Method) {
			out = append(out, c)
		}
	}
	return out
}

// Mark is a position in the fake's call log. Waits and CallsSince take one,
// so that a call recorded before the step under test can never satisfy an
// assertion about what the step did. The zero Mark is the start of the log.
type Mark int

// Mark returns the current end of the call log: take it before the step
// under test, then look for calls after it.
func (m *Matrix) Mark() Mark {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Mark(len(m.calls))
}

// After returns the mark just past c, for waiting on what followed it.
func (c Call) After() Mark { return Mark(c.Seq) }

// CallsSince returns a copy of the calls recorded after mark, in order;
// methods filters by name when given.
func (m *Matrix) CallsSince(mark Mark, methods ...string) []Call {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Call
	for _, c := range m.calls[min(int(mark), len(m.calls)):] {
		if len(methods) == 0 || slices.Contains(methods, c.Method) {
			out = append(out, c)
		}
	}
	return out
}

// WaitCall waits until a call after mark matches pred and returns the first
// such call. pred runs outside the fake's lock, so it may call the fake's
// methods. When the deadline and a matching call come at the same instant,
// the call wins.
func (m *Matrix) WaitCall(after Mark, timeout time.Duration, pred func(Call) bool) (Call, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		m.mu.Lock()
		calls := slices.Clone(m.calls[min(int(after), len(m.calls)):])
		notify := m.notify
		m.mu.Unlock()
		for _, c := range calls {
			if pred(c) {
				return c, nil
			}
		}
		select {
		case <-notify:
		case <-timer.C:
			wait.Settle()
			for _, c := range m.CallsSince(after) {
				if pred(c) {
					return c, nil
				}
			}
			return Call{}, fmt.Errorf("no matching Matrix call after mark %d within %v; calls after it: %+v",
				after, timeout, m.CallsSince(after))
		}
	}
}

// SendNotice implements actors.MatrixSender.
func (m *Matrix) SendNotice(ctx context.Context, roomID, text string) (string, error) {
	return m.record(ctx, Call{Method: "SendNotice", RoomID: roomID, Text: text})
}

// SendText implements actors.MatrixSender.
func (m *Matrix) SendText(ctx context.Context, roomID, markdown string) (string, error) {
	return m.record(ctx, Call{Method: "SendText", RoomID: roomID, Text: markdown})
}

// EditText implements actors.MatrixSender.
func (m *Matrix) EditText(ctx context.Context, roomID, eventID, markdown string) error {
	_, err := m.record(ctx, Call{Method: "EditText", RoomID: roomID, EventID: eventID, Text: markdown})
	return err
}

// ReplyEnded implements actors.MatrixSender: true when a post recorded
// before it, failed ones included (as a homeserver may apply a request
// whose answer never came back), ended the reply to eventID in roomID. It
// is recorded too, with EventID the user's message.
func (m *Matrix) ReplyEnded(ctx context.Context, roomID, eventID string) (bool, error) {
	ended := false
	for _, c := range m.Calls() {
		ended = ended || (c.RoomID == roomID && c.Ends == eventID)
	}
	_, err := m.record(ctx, Call{Method: "ReplyEnded", RoomID: roomID, EventID: eventID})
	return ended && err == nil, err
}

// SetTyping implements actors.MatrixSender.
func (m *Matrix) SetTyping(ctx context.Context, roomID string, typing bool, _ time.Duration) error {
	_, err := m.record(ctx, Call{Method: "SetTyping", RoomID: roomID, Typing: typing})
	return err
}

// SendReaction implements actors.MatrixSender; Text is the key.
func (m *Matrix) SendReaction(ctx context.Context, roomID, eventID, key string) error {
	_, err := m.record(ctx, Call{Method: "SendReaction", RoomID: roomID, EventID: eventID, Text: key})
	return err
}

// MarkRead implements actors.MatrixSender.
func (m *Matrix) MarkRead(ctx context.Context, roomID, eventID string) error {
	_, err := m.record(ctx, Call{Method: "MarkRead", RoomID: roomID, EventID: eventID})
	return err
}

// JoinRoom implements actors.MatrixRooms.
func (m *Matrix) JoinRoom(ctx context.Context, roomID string) error {
	_, err := m.record(ctx, Call{Method: "JoinRoom", RoomID: roomID})
	return err
}

// RejectInvite implements actors.MatrixRooms.
func (m *Matrix) RejectInvite(ctx context.Context, roomID, reason string) error {
	_, err := m.record(ctx, Call{Method: "RejectInvite", RoomID: roomID, Text: reason})
	return err
}

// LeaveRoom implements actors.MatrixRooms.
func (m *Matrix) LeaveRoom(ctx context.Context, roomID string) error {
	_, err := m.record(ctx, Call{Method: "LeaveRoom", RoomID: roomID})
	return err
}

// CreateSpace implements actors.MatrixRooms; the new room id is "!spaceN".
// A failure set with Fail creates nothing.
func (m *Matrix) CreateSpace(ctx context.Context, name string, invite []string, st actors.SpaceState) (string, error) {
	id, err := m.record(ctx, Call{Method: "CreateSpace", Text: name, UserIDs: invite})
	if err != nil {
		return "", err
	}
	roomID := "!space" + id[1:]
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.roomLocked(roomID)
	r.Space = &st
	for _, u := range invite {
		r.Members[u] = "invite"
	}
	return roomID, nil
}

// CreateChatRoom implements actors.MatrixRooms; the new room id is "!roomN".
// A failure set with Fail creates nothing; one set with Fail("LinkChatRoom")
// creates the room but reports that linking it to the Space failed, as the
// real port does.
func (m *Matrix) CreateChatRoom(ctx context.Context, spaceID, name string, invite []string, st actors.ChatState, cmds []actors.CommandDescription) (string, error) {
	id, err := m.record(ctx, Call{Method: "CreateChatRoom", RoomID: spaceID, Text: name, UserIDs: invite})
	if err != nil {
		return "", err
	}
	roomID := "!room" + id[1:]
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.roomLocked(roomID)
	r.Chat = &st
	for _, u := range invite {
		r.Members[u] = "invite"
	}
	if len(cmds) > 0 {
		if m.commands == nil {
			m.commands = map[string][]string{}
		}
		m.commands[roomID] = commandNames(cmds)
	}
	linkErr := m.fail["LinkChatRoom"]
	if linkErr == nil {
		space := m.roomLocked(spaceID)
		space.Children = append(space.Children, roomID)
	}
	return roomID, linkErr
}

// Invite implements actors.MatrixRooms.
func (m *Matrix) Invite(ctx context.Context, roomID, userID string) error {
	_, err := m.record(ctx, Call{Method: "Invite", RoomID: roomID, UserIDs: []string{userID}})
	return err
}

// SetRoomName implements actors.MatrixRooms.
func (m *Matrix) SetRoomName(ctx context.Context, roomID, name string) error {
	_, err := m.record(ctx, Call{Method: "SetRoomName", RoomID: roomID, Text: name})
	return err
}

// RemoveFromSpace implements actors.MatrixRooms.
func (m *Matrix) RemoveFromSpace(ctx context.Context, spaceID, roomID string) error {
	_, err := m.record(ctx, Call{Method: "RemoveFromSpace", RoomID: spaceID, EventID: roomID})
	return err
}

// AddToSpace implements actors.MatrixRooms.
func (m *Matrix) AddToSpace(ctx context.Context, spaceID, roomID string) error {
	if _, err := m.record(ctx, Call{Method: "AddToSpace", RoomID: spaceID, EventID: roomID}); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	space := m.roomLocked(spaceID)
	if !slices.Contains(space.Children, roomID) {
		space.Children = append(space.Children, roomID)
	}
	return nil
}

// SetCommands implements actors.MatrixRooms; UserIDs holds the commands.
func (m *Matrix) SetCommands(ctx context.Context, roomID string, cmds []actors.CommandDescription) error {
	names := commandNames(cmds)
	if _, err := m.record(ctx, Call{Method: "SetCommands", RoomID: roomID, UserIDs: names}); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.commands == nil {
		m.commands = map[string][]string{}
	}
	m.commands[roomID] = names
	return nil
}

func commandNames(cmds []actors.CommandDescription) []string {
	names := make([]string, 0, len(cmds))
	for _, c := range cmds {
		names = append(names, c.Command)
	}
	return names
}

// Commands are the names of the commands roomID describes (MSC4391), set
// by SetCommands or at the room's creation; nil when none.
func (m *Matrix) Commands(roomID string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.commands[roomID])
}

// DisplayName implements actors.MatrixRooms: the localpart of userID.
func (m *Matrix) DisplayName(_ context.Context, userID string) (string, error) {
	name := userID
	if len(name) > 1 && name[0] == '@' {
		name = name[1:]
	}
	for i := range name {
		if name[i] == ':' {
			return name[:i], nil
		}
	}
	return name, nil
}
