package agents

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"time"

	"github.com/rs/zerolog"
)

// DefaultWatchInterval is how often Watch looks at the registry file.
const DefaultWatchInterval = 2 * time.Second

// Watch keeps the registry in step with its file until ctx ends (PRODUCT
// R5.3): every interval it reads the file and, when the content changed,
// reloads it. It polls the content rather than waiting for file-system
// events, so it survives editors that write a new file and rename it over
// the old one, volumes that deliver no events, and a file that is briefly
// missing. A broken edit keeps the previous registry and is logged once (not
// once per interval) with why; the next valid edit applies.
func (r *Registry) Watch(ctx context.Context, interval time.Duration) {
	log := zerolog.Ctx(ctx).With().Str("registry", r.path).Logger()
	if interval <= 0 {
		interval = DefaultWatchInterval
	}
	// The content the current registry was read from: an edit made before
	// this goroutine first looks is still an edit.
	var last []byte
	if d := r.Snapshot().digest; d != ([sha256.Size]byte{}) {
		last = d[:]
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		digest, err := fileDigest(r.path)
		if err != nil {
			if last != nil {
				log.Warn().Err(err).Msg("registry file unreadable, keeping the current registry")
				last = nil
			}
			continue
		}
		if bytes.Equal(digest, last) {
			continue
		}
		last = digest
		if err := r.Reload(); err != nil {
			log.Error().Err(err).Msg("registry edit rejected, keeping the previous registry")
			continue
		}
		s := r.Snapshot()
		log.Info().Int("agents", len(s.Agents())).Int("users", len(s.UserAgents())).Msg("registry reloaded")
	}
}

// fileDigest is the SHA-256 of the file at path.
func fileDigest(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	return sum[:], nil
}
