package e2e

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"

	"github.com/surfaces-bot/surfaces/test/harness"
)

// BenchmarkFilesThroughTheBot sends a file each way through the built bot
// with Dendrite on loopback: user → bot → agent's incoming/ (upload to
// Dendrite, the bot's download and write), and agent → bot → room (the
// bot's read and upload). It reports throughput and the bot's peak RSS
// (VmHWM) for each size, the bot restarted before each, so a peak that
// grows with the file size would show.
func BenchmarkFilesThroughTheBot(b *testing.B) {
	ctx, stack, alice, chat := benchStack(b, harness.StackOptions{Users: []string{"alice"},
		BotEnv: []string{"SURFACES_WORKSPACE_MAX_FILE_SIZE=64MiB"}})
	ws := filepath.Join(stack.Dir(), "agents", "0")
	for _, mib := range []int{5, 50} {
		b.Run(fmt.Sprintf("%dMiB", mib), func(b *testing.B) {
			data := make([]byte, mib<<20)
			rand.Read(data)
			os.MkdirAll(filepath.Join(ws, "output"), 0o755)
			if err := os.WriteFile(filepath.Join(ws, "output", "big.bin"), data, 0o644); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				b.StopTimer()
				if err := stack.StopBot(); err != nil {
					b.Fatal(err)
				}
				if err := stack.StartBot(ctx); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				name := fmt.Sprintf("in%d.bin", time.Now().UnixNano())
				if _, err := alice.SendFile(ctx, chat, name, "application/octet-stream", data, ""); err != nil {
					b.Fatal(err)
				}
				if _, err := alice.WaitMessage(ctx, chat, func(m harness.Message) bool {
					return m.Sender == stack.BotID && strings.Contains(m.FinalBody, strings.ReplaceAll(name, ".", `\.`))
				}); err != nil {
					b.Fatal(err)
				}
				in := time.Since(start)
				start = time.Now()
				files := func() int {
					n := 0
					for _, m := range alice.Messages(chat) {
						if m.Sender == stack.BotID && m.MsgType == event.MsgFile {
							n++
						}
					}
					return n
				}
				before := files()
				if _, err := alice.SendText(ctx, chat, "/sendfile output/big.bin"); err != nil {
					b.Fatal(err)
				}
				if _, err := alice.WaitMessage(ctx, chat, func(harness.Message) bool { return files() > before }); err != nil {
					b.Fatal(err)
				}
				out := time.Since(start)
				b.ReportMetric(float64(mib)/in.Seconds(), "in_MiB/s")
				b.ReportMetric(float64(mib)/out.Seconds(), "out_MiB/s")
				b.ReportMetric(peakRSSMiB(b, stack.Bot.Pid()), "bot_peak_RSS_MiB")
			}
		})
	}
}

// peakRSSMiB reads a process's peak resident set (VmHWM) from /proc.
func peakRSSMiB(b *testing.B, pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Skipf("no /proc here: %v", err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}
