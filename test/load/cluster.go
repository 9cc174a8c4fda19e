package load

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/surfaces-bot/surfaces/test/harness"
)

// A cluster run (Config.Members of 2 or more) is issue 24's simulation:
// the bot runs as members of one cluster on a PostgreSQL state database,
// and the run kills and adds members while replies stream.
//
//   - Turn 1: once the member holding the ingress streams a quarter of
//     the chats' replies at once (or half the chats show their reply's
//     first chunk), it is killed with SIGKILL. The turns
//     it was streaming are cut: each must get exactly one notice from the
//     member that takes the ingress over, and nothing may be lost.
//   - Turn 2: at the same point, a standing-by member
//     is killed and a new member joins, under load: nothing is lost,
//     nothing doubled, nobody told of a cut reply.
//   - Later turns run undisturbed.
//
// Members other than the stack's own bot (member-0) are started here, with
// the stack's bot settings, a member id and an HTTP port of their own.

// cutNotice is the start of the notice of a reply a member's death cut.
const cutNotice = "I restarted while answering"

// member is one running copy of the bot.
type member struct {
	id   string
	proc *harness.Process
	addr string // its HTTP listener
	// peakRSS is its peak resident set, read just before it was killed
	// (or at the end of the run).
	peakRSS int64
	killed  bool
}

// cluster is the members of a cluster run and what the chaos measured.
type cluster struct {
	stack *harness.Stack
	ctx   context.Context

	mu      sync.Mutex
	members []*member
	holder  *member
	next    int
	// kills are when the members whose turns a kill cuts were killed (the
	// ingress holder; with grains, a member serving rooms), in order.
	kills []time.Time
	// takeover and ready are from that kill to a standing-by member
	// taking the ingress over, then to its being ready.
	takeover, ready time.Duration
	// events says what the chaos did, in order, for the report.
	events []string
	// grains: the rooms are spread over the members (Config.Grains).
	grains bool
}

// clusterEnv is the bot's settings for a member of a cluster whose state
// is the PostgreSQL database dsn.
func clusterEnv(dsn string, grains bool) []string {
	env := []string{
		"SURFACES_PERSISTENCE_BACKEND=postgres", "SURFACES_PERSISTENCE_POSTGRES_DSN=" + dsn,
		"SURFACES_CLUSTER_ENABLED=true", "SURFACES_CLUSTER_MEMBER_ID=member-0",
	}
	if grains {
		env = append(env, "SURFACES_CLUSTER_GRAINS=true", "SURFACES_MATRIX_ENCRYPTION=off")
	}
	return env
}

// startCluster adopts the stack's running bot as member-0, the ingress
// holder, and starts the other members, waiting for each to stand by.
func startCluster(ctx context.Context, stack *harness.Stack, members int, grains bool) (*cluster, error) {
	c := &cluster{stack: stack, ctx: ctx, next: 1, grains: grains}
	first := &member{id: "member-0", proc: stack.Bot, addr: stack.HTTPAddr()}
	c.members, c.holder = []*member{first}, first
	for range members - 1 {
		if _, err := c.add(ctx); err != nil {
			c.close()
			return nil, err
		}
	}
	return c, nil
}

// add starts one more member and waits until it stands by.
func (c *cluster) add(ctx context.Context) (*member, error) {
	c.mu.Lock()
	id := fmt.Sprintf("member-%d", c.next)
	c.next++
	c.mu.Unlock()
	// The member outlives this call's ctx (a wave's); close stops it.
	p, addr, err := c.stack.StartMember(c.ctx, id)
	if err != nil {
		return nil, err
	}
	m := &member{id: id, proc: p, addr: addr}
	c.mu.Lock()
	c.members = append(c.members, m)
	c.mu.Unlock()
	if _, err := p.WaitForLine(ctx, harness.MemberStandingBy); err != nil {
		return nil, fmt.Errorf("%s did not stand by: %w\n%s", id, err, p.LogTail(20))
	}
	return m, nil
}

// killHolder kills the ingress holder with SIGKILL and waits for another
// member to take the ingress over and be ready; that member holds it then.
func (c *cluster) killHolder(ctx context.Context) error {
	c.mu.Lock()
	victim := c.holder
	var standby []*member
	for _, m := range c.members {
		if m != victim && !m.killed {
			standby = append(standby, m)
		}
	}
	c.mu.Unlock()
	if len(standby) == 0 {
		return errors.New("no member stands by to take the ingress over")
	}
	victim.peakRSS = peakRSS(victim.proc.Pid())
	killed := time.Now()
	if err := victim.proc.Kill(); err != nil {
		return fmt.Errorf("failed to kill %s: %w", victim.id, err)
	}
	c.mu.Lock()
	victim.killed, c.kills = true, append(c.kills, killed)
	c.events = append(c.events, "killed "+victim.id+" (the ingress holder)")
	c.mu.Unlock()

	// The first standing-by member to log the takeover holds the ingress.
	won := make(chan *member, len(standby))
	waitCtx, stop := context.WithCancel(ctx)
	defer stop()
	for _, m := range standby {
		go func() {
			if _, err := m.proc.WaitForLine(waitCtx, harness.MemberTookOver); err == nil {
				won <- m
			}
		}()
	}
	var holder *member
	select {
	case holder = <-won:
	case <-ctx.Done():
		return fmt.Errorf("no member took the ingress over after %s was killed: %w", victim.id, ctx.Err())
	}
	takeover := time.Since(killed)
	if _, err := holder.proc.WaitForLine(ctx, harness.MemberReady); err != nil {
		return fmt.Errorf("%s took the ingress over but was not ready: %w\n%s", holder.id, err, holder.proc.LogTail(20))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.holder, c.takeover, c.ready = holder, takeover, time.Since(killed)
	c.events = append(c.events, holder.id+" took the ingress over")
	return nil
}

// killStandbyAndAdd kills a standing-by member with SIGKILL and starts a
// new one, while the holder serves.
func (c *cluster) killStandbyAndAdd(ctx context.Context) error {
	if _, err := c.killOther("standing by"); err != nil && !errors.Is(err, errNoOther) {
		return err
	}
	return c.addUnderLoad(ctx)
}

// errNoOther: every member but the ingress holder is dead already.
var errNoOther = errors.New("no member but the ingress holder to kill")

// killOther kills, with SIGKILL, the first live member that does not hold
// the ingress, and says so in the events as "killed <id> (<role>)".
func (c *cluster) killOther(role string) (time.Time, error) {
	return c.kill(c.firstOther(), role)
}

// firstOther is the first live member that does not hold the ingress, nil
// when there is none.
func (c *cluster) firstOther() *member {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.members {
		if m != c.holder && !m.killed {
			return m
		}
	}
	return nil
}

// busiestOther is the live member, not the ingress holder, that streams
// the most turns now (its surfaces_turns_active), nil when none streams
// any.
func (c *cluster) busiestOther() *member {
	c.mu.Lock()
	var others []*member
	for _, m := range c.members {
		if m != c.holder && !m.killed {
			others = append(others, m)
		}
	}
	c.mu.Unlock()
	var best *member
	most := 0
	for _, m := range others {
		if n, err := activeTurns(m.addr); err == nil && n > most {
			best, most = m, n
		}
	}
	return best
}

// kill kills victim (nil: there is none) with SIGKILL and says so in the
// events as "killed <id> (<role>)".
func (c *cluster) kill(victim *member, role string) (time.Time, error) {
	if victim == nil {
		return time.Time{}, errNoOther
	}
	victim.peakRSS = peakRSS(victim.proc.Pid())
	killed := time.Now()
	if err := victim.proc.Kill(); err != nil {
		return time.Time{}, fmt.Errorf("failed to kill %s: %w", victim.id, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	victim.killed = true
	c.events = append(c.events, "killed "+victim.id+" ("+role+")")
	return killed, nil
}

// killServing kills, with SIGKILL, a member serving rooms that does not
// hold the ingress (a run with grains): its rooms are placed on the
// members left, and each turn it streamed must be told cut once.
func (c *cluster) killServing(ctx context.Context) error {
	// The member that streams the most turns: with a few rooms hashed over
	// three members, the first other one may stream none, and a kill that
	// cuts nothing tests nothing (a 6-room run on CI cut no turn).
	victim := c.busiestOther()
	for wait := time.Now().Add(30 * time.Second); victim == nil && time.Now().Before(wait); victim = c.busiestOther() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	if victim == nil {
		victim = c.firstOther()
	}
	killed, err := c.kill(victim, "serving rooms")
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.kills = append(c.kills, killed)
	return nil
}

// addUnderLoad starts one more member while replies stream (a run with
// grains): the rooms placed on it now move there, each finishing its turn
// first.
func (c *cluster) addUnderLoad(ctx context.Context) error {
	m, err := c.add(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, m.id+" joined")
	return nil
}

// chaos is what happens to the cluster once every chat of turn k shows its
// reply's first chunk; nil for none.
func (c *cluster) chaos(k int) func(context.Context) error {
	if c.grains {
		switch k {
		case 0:
			return c.killServing
		case 1:
			return c.killHolder
		case 2:
			return c.addUnderLoad
		}
		return nil
	}
	switch k {
	case 0:
		return c.killHolder
	case 1:
		return c.killStandbyAndAdd
	}
	return nil
}

// streaming is closed once the ingress holder runs at least want turns at
// once (its surfaces_turns_active), read every 200 ms until ctx ends. The
// users' view of the replies lags the bot's by tens of seconds at 200 rooms
// (the homeserver's sync to 20 clients), so only the holder can say its
// turns are streaming now.
func (c *cluster) streaming(ctx context.Context, want int) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			if n, err := c.active(); err == nil && n >= want {
				close(done)
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return done
}

// active is how many turns stream now: on the ingress holder, or with
// grains on every member alive.
func (c *cluster) active() (int, error) {
	if !c.grains {
		return activeTurns(c.current().addr)
	}
	c.mu.Lock()
	var addrs []string
	for _, m := range c.members {
		if !m.killed {
			addrs = append(addrs, m.addr)
		}
	}
	c.mu.Unlock()
	total := 0
	for _, addr := range addrs {
		n, err := activeTurns(addr)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// activeTurns reads the surfaces_turns_active gauge of the member at addr.
func activeTurns(addr string) (int, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return 0, err
	}
	n := 0.0
	if f, ok := families["surfaces_turns_active"]; ok {
		for _, m := range f.GetMetric() {
			n += m.GetGauge().GetValue()
		}
	}
	return int(n), nil
}

// killBefore is the last kill that cut turns at or before at, zero if
// none: the kill that cut a turn whose notice the homeserver stamped at.
func (c *cluster) killBefore(at time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	var last time.Time
	for _, k := range c.kills {
		if !k.After(at) {
			last = k
		}
	}
	return last
}

// killTimes are the kills that cut turns, in order.
func (c *cluster) killTimes() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.kills)
}

// logLines returns the last n lines of each member's log that mention
// needle (a room id), each led by the member's id, for a failure's report.
func (c *cluster) logLines(needle string, n int) []string {
	c.mu.Lock()
	members := slices.Clone(c.members)
	c.mu.Unlock()
	var out []string
	for _, m := range members {
		data, err := os.ReadFile(m.proc.LogPath())
		if err != nil {
			continue
		}
		var lines []string
		for line := range strings.Lines(string(data)) {
			if strings.Contains(line, needle) {
				lines = append(lines, m.id+": "+strings.TrimSpace(line))
			}
		}
		out = append(out, lines[max(0, len(lines)-n):]...)
	}
	return out
}

// current is the member holding the ingress.
func (c *cluster) current() *member {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.holder
}

// peaks is each member's peak RSS in MiB, reading the running ones now.
func (c *cluster) peaks() map[string]float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]float64{}
	for _, m := range c.members {
		if !m.killed {
			m.peakRSS = peakRSS(m.proc.Pid())
		}
		out[m.id] = float64(m.peakRSS) / (1 << 20)
	}
	return out
}

// close stops the members this run started (member-0 is the stack's).
func (c *cluster) close() {
	c.mu.Lock()
	members := c.members
	c.mu.Unlock()
	for _, m := range members {
		if m.proc != c.stack.Bot && !m.killed {
			_ = m.proc.StopWithGrace(15 * time.Second)
		}
	}
}
