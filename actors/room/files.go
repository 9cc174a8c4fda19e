package room

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/actors/catalog"
	"github.com/surfaces-bot/surfaces/actors/internal/kit"
)

// Files the user sends wait in the room's record (Staged) until the next
// turn carries them as attachments (PRODUCT R4.1). Receiving one holds the
// turns (holdTurns), so a message sent right after a file goes with it, and
// a caption keeps its place before messages sent after it (arrival).

// fileStaged reports the end of receiving a file.
type fileStaged struct {
	inc     uint64
	att     actors.Attachment
	name    string
	size    int64
	limit   int64
	caption string
	eventID string
	sender  string
	arrival uint64
	ack     *actors.Ack
	err     error
}

func (m *fileStaged) incarnation() uint64 { return m.inc }

// stageFile receives the file of m into the agent's incoming/ directory.
func (a *roomActor) stageFile(c actor.Context, m *actors.StageFile) {
	cat, files := a.deps.Catalog, a.deps.Files
	name := cmp.Or(m.Media.FileName, "file")
	if max := files.MaxSize(); m.Media.Size > max {
		a.notice(c, cat.T(catalog.FileTooLarge, "name", kit.EscapeMarkdown(name), "size", kit.HumanSize(m.Media.Size), "limit", kit.HumanSize(max)))
		a.stagingDone(c, m.EventID, nil)
		m.Ack.Done()
		return
	}
	agent, ok := a.deps.Registry.Agent(a.rec.AgentID)
	if !ok {
		a.notice(c, cat.T(catalog.AgentUnavailable))
		a.stagingDone(c, m.EventID, nil)
		m.Ack.Done()
		return
	}
	a.holdTurns++
	// Not written into m: a crashed incarnation's download may still read
	// it while its successor stages the same message again.
	arrival := a.nextArrival()
	if a.staging == nil {
		a.staging = map[string]*actors.StageFile{}
	}
	a.staging[m.EventID] = m
	matrix, inc, media, limit := a.deps.Matrix, a.inc, m.Media, m.Limit
	kit.RunTask(c, a.ctx, func(ctx context.Context) any {
		att, err := files.Receive(ctx, agent, name, func(w io.Writer) error {
			if limit > 0 {
				w = &quotaWriter{w: w, left: limit}
			}
			return matrix.Download(ctx, media, w)
		})
		att.EventID, att.MIME = m.EventID, cmp.Or(media.MIME, att.MIME)
		return &fileStaged{inc: inc, att: att, name: name, size: media.Size, limit: limit, caption: m.Caption, eventID: m.EventID, sender: m.Sender, arrival: arrival, ack: m.Ack, err: err}
	})
}

func (a *roomActor) fileStagedDone(c actor.Context, m *fileStaged) {
	defer a.releaseTurns(c)
	delete(a.staging, m.eventID)
	cat := a.deps.Catalog
	if m.err == nil {
		a.stagingDone(c, m.eventID, &m.att)
	} else {
		a.stagingDone(c, m.eventID, nil)
	}
	if m.err != nil {
		m.ack.Done() // the user is told below
		a.log.Warn().Err(m.err).Str("event_id", m.eventID).Msg("failed to receive a file")
		switch {
		case errors.Is(m.err, actors.ErrStagedQuota):
			a.notice(c, cat.T(catalog.QuotaStaged, "name", kit.EscapeMarkdown(m.name), "limit", kit.HumanSize(a.opts.MaxStagedBytes),
				"used", kit.HumanSize(a.opts.MaxStagedBytes-m.limit)))
			c.ActorSystem().EventStream.Publish(&actors.QuotaRefused{UserID: a.rec.OwnerID, Quota: actors.QuotaStagedBytes})
		case errors.Is(m.err, actors.ErrFileTooLarge):
			a.notice(c, cat.T(catalog.FileTooLarge, "name", kit.EscapeMarkdown(m.name), "size", kit.HumanSize(max(m.size, a.deps.Files.MaxSize()+1)), "limit", kit.HumanSize(a.deps.Files.MaxSize())))
		default:
			a.notice(c, cat.T(catalog.FileFailed, "name", kit.EscapeMarkdown(m.name)))
		}
		return
	}
	a.rec.Staged = append(a.rec.Staged, m.att)
	a.rec.Taken = actors.Took(a.rec.Taken, m.eventID)
	a.acks = append(a.acks, m.ack)
	a.log.Info().Str("event_id", m.eventID).Str("path", m.att.Path).Int64("size", m.att.Size).Msg("file staged")
	if m.caption != "" {
		// The caption is the message the file goes with (PRODUCT R4.1).
		if !a.enqueue(c, &actors.StartTurn{EventID: m.eventID, Sender: m.sender, Text: m.caption, Arrival: m.arrival}) {
			a.save(c) // the file stays staged for the next message
		}
		return
	}
	a.save(c)
	a.notice(c, cat.T(catalog.FileStaged, "name", kit.EscapeMarkdown(m.att.Name), "size", kit.HumanSize(m.att.Size), "count", strconv.Itoa(len(a.rec.Staged))))
}

// stagingDone tells the user actor the file of eventID is no longer being
// received: att is what was staged (nil: nothing), for the user's
// staged-files quota (user_quota.go).
func (a *roomActor) stagingDone(c actor.Context, eventID string, att *actors.Attachment) {
	if parent := c.Parent(); parent != nil {
		c.Send(parent, &kit.StagingEnded{RoomID: a.roomID, EventID: eventID, Att: att})
	}
}

// quotaWriter fails a file's download past what is left of its user's
// staged-files quota: Files.Receive then leaves nothing on disk.
type quotaWriter struct {
	w    io.Writer
	left int64
}

func (q *quotaWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > q.left {
		return 0, actors.ErrStagedQuota
	}
	q.left -= int64(len(p))
	return q.w.Write(p)
}

// listStaged answers !list.
func (a *roomActor) listStaged(c actor.Context) {
	cat := a.deps.Catalog
	if len(a.rec.Staged) == 0 {
		a.notice(c, cat.T(catalog.StagedNone))
		return
	}
	var b strings.Builder
	for i, s := range a.rec.Staged {
		fmt.Fprintf(&b, "%d. **%s** (%s)\n", i+1, kit.EscapeMarkdown(s.Name), kit.HumanSize(s.Size))
	}
	a.notice(c, cat.T(catalog.StagedList, "files", strings.TrimRight(b.String(), "\n")))
}

// removeStaged answers !remove <n|all>: the files are unstaged and deleted.
func (a *roomActor) removeStaged(c actor.Context, cmd actors.Command) {
	cat := a.deps.Catalog
	arg := strings.ToLower(strings.TrimSpace(cmd.Args))
	var gone []actors.Attachment
	switch n, err := strconv.Atoi(arg); {
	case len(a.rec.Staged) == 0:
		a.notice(c, cat.T(catalog.StagedNone))
		return
	case arg == "all":
		gone, a.rec.Staged = a.rec.Staged, nil
		a.notice(c, cat.T(catalog.StagedRemovedAll, "count", strconv.Itoa(len(gone))))
	case err == nil && n >= 1 && n <= len(a.rec.Staged):
		gone = []actors.Attachment{a.rec.Staged[n-1]}
		a.rec.Staged = slices.Delete(slices.Clone(a.rec.Staged), n-1, n)
		a.notice(c, cat.T(catalog.StagedRemoved, "name", kit.EscapeMarkdown(gone[0].Name)))
	default:
		a.notice(c, cat.T(catalog.RemoveWhich))
		return
	}
	a.commandWritten()
	a.save(c)
	a.deleteFiles(c, gone)
}

// deleteFiles removes unstaged files from the volume, in a task.
func (a *roomActor) deleteFiles(c actor.Context, atts []actors.Attachment) {
	agent, ok := a.deps.Registry.Agent(a.rec.AgentID)
	if len(atts) == 0 || !ok {
		return
	}
	files := a.deps.Files
	kit.RunTask(c, a.ctx, func(ctx context.Context) any {
		for _, att := range atts {
			if err := files.Remove(context.WithoutCancel(ctx), agent, att.Path); err != nil {
				a.log.Warn().Err(err).Str("path", att.Path).Msg("failed to delete an unstaged file")
			}
		}
		return nil
	})
}

// sendFile uploads a file the agent sent and posts it in its place in the
// reply (an op of the reply's pipeline, so text and files keep their order).
func (a *roomActor) sendFile(c actor.Context, t *turn, op replyOp) {
	agent, ok := a.deps.Registry.Agent(t.agentID)
	files, matrix, roomID, id, tlog := a.deps.Files, a.deps.Matrix, a.roomID, t.id, t.log
	kit.RunTask(c, a.ctx, func(ctx context.Context) any {
		ctx = tlog.WithContext(context.WithoutCancel(ctx))
		ctx = actors.WithReplyEnd(ctx, op.end)
		if !ok {
			return &replyOpDone{turnID: id, op: op, err: actors.ErrUnknownAgent}
		}
		f, err := files.Open(ctx, agent, op.file)
		if err != nil {
			return &replyOpDone{turnID: id, op: op, err: err}
		}
		eventID, err := matrix.SendFile(ctx, roomID, f)
		return &replyOpDone{turnID: id, op: op, eventID: eventID, err: err}
	})
}

// fileNotSent tells the user why a file the agent sent did not arrive, and
// the operator with the agent id and the path.
func (a *roomActor) fileNotSent(c actor.Context, t *turn, path string, err error) {
	cat := a.deps.Catalog
	t.log.Warn().Err(err).Str("event_id", t.eventID).Str("path", path).Msg("file from the agent not delivered")
	switch {
	case errors.Is(err, actors.ErrUnsafePath):
		a.notice(c, cat.T(catalog.FileRefused, "path", path))
	case errors.Is(err, actors.ErrFileTooLarge):
		a.notice(c, cat.T(catalog.FileOutTooLarge, "path", path, "limit", kit.HumanSize(a.deps.Files.MaxSize())))
	default:
		a.notice(c, cat.T(catalog.FileSendFailed, "path", path))
	}
}
