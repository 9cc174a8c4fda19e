package harness

import (
	"context"
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"
	"maunium.net/go/mautrix"
)

// BotAccount returns a client of the bot's own account, for a test that
// reads what the homeserver keeps for it (its push rules, its
// notifications): the appservice's token in appservice mode, otherwise a
// password login onto a device of its own, logged out when the test ends
// (so that an encrypting bot's users never share a room key with it).
func (s *Stack) BotAccount(ctx context.Context, cleanup func(func())) (*mautrix.Client, error) {
	if s.registration != "" {
		raw, err := os.ReadFile(s.registration)
		if err != nil {
			return nil, fmt.Errorf("failed to read the registration: %w", err)
		}
		var reg struct {
			ASToken string `yaml:"as_token"`
		}
		if err := yaml.Unmarshal(raw, &reg); err != nil {
			return nil, fmt.Errorf("failed to read the registration: %w", err)
		}
		return mautrix.NewClient(s.HS.URL(), s.BotID, reg.ASToken)
	}
	cli, err := s.HS.Login(ctx, s.BotID, botPassword)
	if err != nil {
		return nil, fmt.Errorf("failed to log in as the bot: %w", err)
	}
	cleanup(func() { _, _ = cli.Logout(context.Background()) })
	return cli, nil
}
