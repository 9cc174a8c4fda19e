package load

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/surfaces-bot/surfaces/actors"
	"github.com/surfaces-bot/surfaces/test/harness"
)

// Report is a run's numbers.
type Report struct {
	// Homeserver says what the homeserver ran on.
	Homeserver string  `json:"homeserver"`
	Users      int     `json:"users"`
	Rooms      int     `json:"rooms_per_user"`
	Turns      int     `json:"turns_per_room"`
	StreamS    float64 `json:"stream_seconds"`
	Seconds    float64 `json:"seconds"`
	// Onboarded is when each user had their Space and chats, from the
	// moment the whole crowd invited the bot at once.
	Onboarded Quantiles `json:"onboarded_ms"`

	// FirstVisible and Complete are the replies as their users saw them;
	// Floor is user-to-user on the same homeserver in the same window.
	FirstVisible Quantiles `json:"first_visible_ms"`
	Complete     Quantiles `json:"complete_ms"`
	Floor        Quantiles `json:"floor_ms"`
	// RatioP50 and RatioP95 are FirstVisible over Floor.
	RatioP50 float64 `json:"ratio_p50"`
	RatioP95 float64 `json:"ratio_p95"`
	// RelayFloor is a message to another user and that user's answer,
	// sent the moment their sync showed the message, seen: the barest
	// relay on the same homeserver in the same window. RelayRatioP50 is
	// FirstVisible over it: what the bot adds to what any relay takes.
	RelayFloor    Quantiles `json:"relay_floor_ms"`
	RelayRatioP50 float64   `json:"relay_ratio_p50"`
	// BurstLast and FloorBurst are the bursts (Config.Burst): the last
	// first reply of each user's burst, and the last message of each same
	// burst between two users; BurstRatioP50 is the one over the other.
	BurstLast     Quantiles `json:"burst_last_first_visible_ms,omitzero"`
	FloorBurst    Quantiles `json:"floor_burst_ms,omitzero"`
	BurstRatioP50 float64   `json:"burst_ratio_p50,omitempty"`
	// RelayBurst is the same burst between two users with each message
	// answered, to the last answer seen: the barest relay's time for the
	// burst. BurstRelayRatioP50 is BurstLast over it.
	RelayBurst         Quantiles `json:"relay_burst_ms,omitzero"`
	BurstRelayRatioP50 float64   `json:"burst_relay_ratio_p50,omitempty"`

	Sent int `json:"turns_sent"`
	// Lost are the turns that got neither their reply nor the notice that
	// it was cut; Cut the turns told they were cut (a member killed).
	Lost         int     `json:"replies_lost"`
	Cut          int     `json:"turns_cut"`
	Doubled      int     `json:"replies_doubled"`
	EditsPerTurn float64 `json:"edits_per_reply"`
	PostsPerSec  float64 `json:"posts_per_second"`
	RateLimited  float64 `json:"answers_429"`

	BotPeakRSSMiB float64 `json:"bot_peak_rss_mib"`
	BotCPUSeconds float64 `json:"bot_cpu_seconds"`
	HSCPUSeconds  float64 `json:"homeserver_cpu_seconds"`
	// Stages are the medians of the turns' stages over the run, in ms:
	// from the bot's "turn ended" log lines (StagesFrom "log"), or, in a
	// cluster run, from surfaces_turn_stage_seconds's buckets ("buckets").
	Stages     map[string]float64 `json:"stage_medians_ms"`
	StagesFrom string             `json:"stage_medians_from"`
	// Activation is surfaces_room_activation_seconds of the bot (a
	// cluster run's last ingress holder) since it started, from the
	// histogram's buckets: a room actor's start to its record taken.
	Activation Quantiles `json:"room_activation_ms"`

	// A cluster run's (Config.Members): the members and what happened to
	// them (Chaos, in order); from the ingress holder's kill to another
	// member taking the ingress over, then to its being ready; from the
	// kill to each cut turn's notice; the notices of a cut reply, and the
	// rooms where they were not one a cut turn; each member's peak RSS (a
	// killed member's read just before the kill). The counters (posts,
	// 429s, stages) and the bot's CPU are the last ingress holder's.
	Members         int       `json:"members,omitempty"`
	Chaos           []string  `json:"chaos,omitempty"`
	TakeoverMS      float64   `json:"takeover_ms,omitempty"`
	TakeoverReadyMS float64   `json:"takeover_ready_ms,omitempty"`
	ToldCut         Quantiles `json:"kill_to_cut_notice_ms,omitzero"`
	CutStamped      Quantiles `json:"kill_to_cut_notice_stamped_ms,omitzero"`
	CutNotices      int       `json:"cut_notices,omitempty"`
	// CutRemade is how many turns a kill caught ending that the next
	// holder finished by making their last edit again (the members' logs);
	// CutFoundWhole how many it found whole by asking the homeserver.
	CutRemade     int `json:"cut_turns_last_edit_made_again,omitempty"`
	CutFoundWhole int `json:"cut_turns_found_whole,omitempty"`
	// CutSlow counts the cut turns whose notice the homeserver stamped more
	// than CutAnswerWithin after the kill that cut them, CutSlowAsked those
	// of them whose holder had to ask the homeserver first (Turn.CutAsked).
	CutSlow          int                `json:"cut_notices_slow,omitempty"`
	CutSlowAsked     int                `json:"cut_notices_slow_asked,omitempty"`
	RoomsToldWrong   int                `json:"rooms_told_wrong,omitempty"`
	MemberPeakRSSMiB map[string]float64 `json:"member_peak_rss_mib,omitempty"`

	// ToldWrong describes the first rooms told otherwise than once a cut
	// turn: their turns and the bot's messages, in order.
	ToldWrong []string `json:"rooms_told_wrong_details,omitempty"`
	// Missed describes the first rooms with a turn lost or a reply
	// doubled, the same way.
	Missed []string `json:"rooms_missed_details,omitempty"`

	// TurnDetails are every turn, for a closer look.
	TurnDetails []Turn `json:"-"`
}

// Quantiles of a set of durations, in milliseconds (nearest rank).
type Quantiles struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func (r *run) report(elapsed time.Duration, before, after snapshot, floor, relay []time.Duration, doubled int) *Report {
	if after.pid != before.pid {
		// Another member took the ingress over: its counters and CPU
		// started with it.
		before = snapshot{pid: after.pid, hsCPU: before.hsCPU}
	}
	homeserver := "Dendrite v0.15.2 on SQLite (WAL), loopback"
	if r.db != nil {
		homeserver = "Dendrite v0.15.2 on PostgreSQL (its CPU counted with the homeserver's), loopback"
	}
	if r.cfg.HomeserverRateLimited {
		homeserver += ", rate limiting on"
	}
	if r.cfg.Appservice {
		homeserver += "; the bot as an application service"
	} else {
		homeserver += "; the bot syncing"
	}
	rep := &Report{
		Homeserver: homeserver,
		Users:      r.cfg.Users, Rooms: r.cfg.Rooms, Turns: r.cfg.Turns, StreamS: r.cfg.Stream.Seconds(),
		Seconds: elapsed.Seconds(), Floor: quantiles(floor), RelayFloor: quantiles(relay), Doubled: doubled, TurnDetails: r.turns,
		Stages: stageMedians(before, after), StagesFrom: "buckets", Onboarded: quantiles(r.onboarded),
		Activation: histogramQuantiles(after, "surfaces_room_activation_seconds"),
	}
	if r.cluster == nil && r.stack != nil {
		if exact := logStageMedians(r.stack.BotLogs, r.logsFrom); exact != nil {
			rep.Stages, rep.StagesFrom = exact, "log"
		}
	}
	var first, complete, toldCut, cutStamped []time.Duration
	edits := 0
	for _, t := range r.turns {
		rep.Sent++
		if t.FirstVisible > 0 {
			first = append(first, t.FirstVisible)
		}
		if t.Cut {
			rep.Cut++
			if t.ToldCut > 0 {
				toldCut = append(toldCut, t.ToldCut)
				cutStamped = append(cutStamped, t.CutStamped)
			}
			continue
		}
		if t.Replies == 0 {
			rep.Lost++
			continue
		}
		complete = append(complete, t.Complete)
		edits += t.Edits
	}
	rep.FirstVisible, rep.Complete = quantiles(first), quantiles(complete)
	if n := len(complete); n > 0 {
		rep.EditsPerTurn = float64(edits) / float64(n)
	}
	if rep.Floor.P50 > 0 {
		rep.RatioP50, rep.RatioP95 = rep.FirstVisible.P50/rep.Floor.P50, rep.FirstVisible.P95/rep.Floor.P95
	}
	if rep.RelayFloor.P50 > 0 {
		rep.RelayRatioP50 = rep.FirstVisible.P50 / rep.RelayFloor.P50
	}
	if r.cfg.Burst {
		rep.BurstLast, rep.FloorBurst = quantiles(r.burstLast), quantiles(r.floorBursts)
		if rep.FloorBurst.P50 > 0 {
			rep.BurstRatioP50 = rep.BurstLast.P50 / rep.FloorBurst.P50
		}
		if rep.RelayBurst = quantiles(r.relayBursts); rep.RelayBurst.P50 > 0 {
			rep.BurstRelayRatioP50 = rep.BurstLast.P50 / rep.RelayBurst.P50
		}
	}
	posts := after.sum("surfaces_matrix_events_sent_total", nil) - before.sum("surfaces_matrix_events_sent_total", nil)
	rep.PostsPerSec = posts / elapsed.Seconds()
	limited := map[string]string{"outcome": "rate_limited"}
	rep.RateLimited = after.sum("surfaces_matrix_requests_total", limited) - before.sum("surfaces_matrix_requests_total", limited)
	rep.BotPeakRSSMiB = float64(after.botPeakRSSBytes) / (1 << 20)
	rep.BotCPUSeconds = (after.botCPU - before.botCPU).Seconds()
	rep.CutNotices, rep.RoomsToldWrong, rep.ToldWrong, rep.Missed = r.cutNotices, r.roomsToldWrong, r.toldWrong, r.missed
	if c := r.cluster; c != nil {
		c.mu.Lock()
		rep.Members, rep.Chaos = r.cfg.Members, slices.Clone(c.events)
		rep.TakeoverMS, rep.TakeoverReadyMS = ms(c.takeover), ms(c.ready)
		c.mu.Unlock()
		// The members' logs are read once: a line of a room that asked
		// names the room.
		asked := c.logLines("asking the homeserver whether", math.MaxInt)
		for i := range r.turns {
			t := &r.turns[i]
			if !t.Cut || t.CutStamped <= CutAnswerWithin {
				continue
			}
			rep.CutSlow++
			t.CutAsked = slices.ContainsFunc(asked, func(l string) bool { return strings.Contains(l, t.Room) })
			if t.CutAsked {
				rep.CutSlowAsked++
			}
		}
		rep.CutRemade = len(c.logLines("made the last edit of the turn in flight at the restart again", math.MaxInt))
		rep.CutFoundWhole = len(c.logLines("the turn in flight at the restart had posted its whole reply", math.MaxInt))
		rep.ToldCut, rep.CutStamped, rep.MemberPeakRSSMiB = quantiles(toldCut), quantiles(cutStamped), c.peaks()
	}
	rep.HSCPUSeconds = (after.hsCPU - before.hsCPU).Seconds()
	return rep
}

// describe lists room's turns and the bot's messages in it, in order,
// and in a cluster run when the holder was killed and what the members
// logged of the room.
func (r *run) describe(u *harness.UserClient, bot id.UserID, room id.RoomID) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:", room)
	if r.cluster != nil {
		for _, at := range r.cluster.killTimes() {
			fmt.Fprintf(&b, "\n  a member killed at %s", at.Format("15:04:05.000"))
		}
	}
	for _, t := range r.turns {
		if t.Room == room.String() {
			fmt.Fprintf(&b, "\n  turn %q sent at %s: cut %t, replies %d, first visible %v, complete %v",
				t.Text, t.sent.Format("15:04:05.000"), t.Cut, t.Replies, t.FirstVisible, t.Complete)
		}
	}
	for _, m := range u.Messages(room) {
		body := m.FinalBody
		if len(body) > 60 {
			body = body[:60] + "…"
		}
		who := "user"
		if m.Sender == bot {
			who = "bot"
		}
		fmt.Fprintf(&b, "\n  %s %s %s %s (%d edits): %q", m.Timestamp.Format("15:04:05.000"), who, m.MsgType, m.EventID, m.Edits, body)
	}
	if r.cluster != nil {
		for _, line := range r.cluster.logLines(room.String(), 30) {
			fmt.Fprintf(&b, "\n  %s", line)
		}
	}
	return b.String()
}

// lostIn counts the turns of room that got neither their reply nor a
// notice within Config.ReplyTimeout.
func (r *run) lostIn(room id.RoomID) int {
	n := 0
	for _, t := range r.turns {
		if t.Room == room.String() && !t.Cut && t.Replies == 0 {
			n++
		}
	}
	return n
}

// cutIn counts the turns of room told they were cut.
func (r *run) cutIn(room id.RoomID) int {
	n := 0
	for _, t := range r.turns {
		if t.Room == room.String() && t.Cut {
			n++
		}
	}
	return n
}

// repliesIn counts the turns of room that got their reply, and lists the
// replies' final texts.
func (r *run) repliesIn(room id.RoomID) (int, map[string]bool) {
	n, wants := 0, map[string]bool{}
	for _, t := range r.turns {
		if t.Room == room.String() {
			wants[t.want] = true
			if t.Replies > 0 {
				n++
			}
		}
	}
	return n, wants
}

// Print writes the report as a table.
func (rep *Report) Print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "load\t%d users × %d chats × %d turns, replies %s, %s\n", rep.Users, rep.Rooms, rep.Turns,
		map[bool]string{true: fmt.Sprintf("streaming %.0f s", rep.StreamS), false: "instant"}[rep.StreamS > 0], rep.Homeserver)
	q := func(x Quantiles) string {
		return fmt.Sprintf("p50 %.0f ms, p95 %.0f ms, p99 %.0f ms (n=%d)", x.P50, x.P95, x.P99, x.N)
	}
	fmt.Fprintf(tw, "onboarded (the crowd at once)\t%s\n", q(rep.Onboarded))
	fmt.Fprintf(tw, "first visible reply\t%s\n", q(rep.FirstVisible))
	fmt.Fprintf(tw, "floor (user to user)\t%s\n", q(rep.Floor))
	fmt.Fprintf(tw, "ratio to the floor\tp50 %.2f ×, p95 %.2f ×\n", rep.RatioP50, rep.RatioP95)
	if rep.RelayFloor.N > 0 {
		fmt.Fprintf(tw, "relay floor (to a user and back)\t%s\n", q(rep.RelayFloor))
		fmt.Fprintf(tw, "ratio to the relay floor\tp50 %.2f ×\n", rep.RelayRatioP50)
	}
	if rep.BurstLast.N > 0 {
		fmt.Fprintf(tw, "last first reply of a burst\t%s\n", q(rep.BurstLast))
		fmt.Fprintf(tw, "the same burst user to user\t%s\n", q(rep.FloorBurst))
		fmt.Fprintf(tw, "burst ratio\tp50 %.2f ×\n", rep.BurstRatioP50)
		if rep.RelayBurst.N > 0 {
			fmt.Fprintf(tw, "the same burst relayed (each answered)\t%s\n", q(rep.RelayBurst))
			fmt.Fprintf(tw, "over the relayed burst\tp50 %.2f ×\n", rep.BurstRelayRatioP50)
		}
	}
	fmt.Fprintf(tw, "complete reply\t%s\n", q(rep.Complete))
	fmt.Fprintf(tw, "replies\t%d sent, %d lost, %d doubled, %.1f edits a reply\n", rep.Sent, rep.Lost, rep.Doubled, rep.EditsPerTurn)
	if rep.Members > 0 || rep.Cut > 0 || rep.CutNotices > 0 {
		fmt.Fprintf(tw, "cut by a kill\t%d turns, %d notices, %d rooms told otherwise than once a cut turn\n", rep.Cut, rep.CutNotices, rep.RoomsToldWrong)
	}
	if rep.Members > 0 {
		fmt.Fprintf(tw, "cluster\t%d members: %s\n", rep.Members, strings.Join(rep.Chaos, "; "))
		fmt.Fprintf(tw, "takeover\tingress taken %.0f ms after the kill, ready %.0f ms after\n", rep.TakeoverMS, rep.TakeoverReadyMS)
		fmt.Fprintf(tw, "kill to a cut turn's notice\tseen %s\n", q(rep.ToldCut))
		fmt.Fprintf(tw, "\tstamped by the homeserver %s, max %.0f ms\n", q(rep.CutStamped), rep.CutStamped.Max)
		fmt.Fprintf(tw, "\t%d stamped later than %v, %d of them asked about\n", rep.CutSlow, CutAnswerWithin, rep.CutSlowAsked)
		fmt.Fprintf(tw, "caught ending, not cut\t%d turns whole by their last edit made again, %d found whole by asking the homeserver\n", rep.CutRemade, rep.CutFoundWhole)
		var rss []string
		for _, id := range slices.Sorted(maps.Keys(rep.MemberPeakRSSMiB)) {
			rss = append(rss, fmt.Sprintf("%s %.0f MiB", id, rep.MemberPeakRSSMiB[id]))
		}
		fmt.Fprintf(tw, "members' peak RSS\t%s\n", strings.Join(rss, ", "))
	}
	fmt.Fprintf(tw, "bot's posts\t%.1f/s, %.0f answered 429\n", rep.PostsPerSec, rep.RateLimited)
	fmt.Fprintf(tw, "bot\tpeak RSS %.0f MiB, %.1f CPU s in %.0f s\n", rep.BotPeakRSSMiB, rep.BotCPUSeconds, rep.Seconds)
	fmt.Fprintf(tw, "homeserver\t%.1f CPU s\n", rep.HSCPUSeconds)
	var stages []string
	for _, s := range actors.StageNames {
		if v, ok := rep.Stages[s]; ok {
			stages = append(stages, fmt.Sprintf("%s %.1f", s, v))
		}
	}
	fmt.Fprintf(tw, "stage medians (ms from the sync, %s)\t%s\n", map[string]string{"log": "the log's", "buckets": "from the buckets"}[rep.StagesFrom], strings.Join(stages, ", "))
	if rep.Activation.N > 0 {
		fmt.Fprintf(tw, "room activation (the bot's, from buckets)\t%s\n", q(rep.Activation))
	}
	_ = tw.Flush()
}

// progress draws a bar of turns done.
type progress struct {
	w     io.Writer
	total int

	mu   sync.Mutex
	done int
}

func newProgress(w io.Writer, total int) *progress { return &progress{w: w, total: total} }

func (p *progress) step() {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	const width = 40
	n := p.done * width / max(p.total, 1)
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d turns", strings.Repeat("#", n), strings.Repeat(".", width-n), p.done, p.total)
}

func (p *progress) finish() {
	if p.w != nil {
		fmt.Fprintln(p.w)
	}
}

// CutAnswerWithin is how soon after a member's kill its rooms must answer
// again (issue 24): a cut turn's notice stamped by the homeserver.
const CutAnswerWithin = 10 * time.Second
