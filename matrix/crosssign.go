package matrix

import (
	"context"
	"errors"
	"fmt"

	"github.com/rs/zerolog"
)

// ErrRecoveryKey says the configured recovery key does not open the
// account's secret storage.
var ErrRecoveryKey = errors.New("the recovery key does not match the account's cross-signing keys")

// CrossSign makes the bot's device self-verified, so that users' clients
// show it as the bot's own, verified device (PRODUCT R10.1). The first time
// (the account has no cross-signing keys) it makes them, stores them in the
// account's secret storage under a new recovery key, signs the device and
// returns that key: the caller shows it to the operator, once, and the
// configuration holds it afterwards (recoveryKey). With keys on the account
// and the recovery key, a device not signed yet (a new one, after a lost
// state directory) is signed with the keys from secret storage. Without the
// recovery key such a device stays unverified, which is logged.
//
// password answers the homeserver's user-interactive auth for uploading the
// keys; without one, homeservers that require it refuse the first upload.
func (c *Client) CrossSign(ctx context.Context, recoveryKey, password string) (newRecoveryKey string, err error) {
	cs := c.crypto
	if cs == nil {
		return "", nil
	}
	log := zerolog.Ctx(ctx).With().Str("device_id", c.cli.DeviceID.String()).Logger()
	mach := cs.mach
	hasKeys, verified, err := mach.GetOwnVerificationStatus(ctx)
	if err != nil {
		return "", fmt.Errorf("failed to read the account's cross-signing status: %w", err)
	}
	switch {
	case hasKeys && verified:
		log.Debug().Msg("the bot's device is cross-signed")
		return "", nil
	case hasKeys && recoveryKey != "":
		if err := mach.VerifyWithRecoveryKey(ctx, recoveryKey); err != nil {
			return "", fmt.Errorf("%w: %w", ErrRecoveryKey, err)
		}
		log.Info().Msg("the bot's device is cross-signed with the keys from secret storage")
		return "", nil
	case hasKeys:
		log.Warn().Msg("the account has cross-signing keys but no recovery key is configured (matrix.recovery_key): the bot's device stays unverified")
		return "", nil
	}
	if password != "" {
		newRecoveryKey, _, err = mach.GenerateAndUploadCrossSigningKeysWithPassword(ctx, password, "")
	} else {
		newRecoveryKey, _, err = mach.GenerateAndUploadCrossSigningKeys(ctx, nil, "")
	}
	if err != nil {
		return "", fmt.Errorf("failed to set up cross-signing: %w", err)
	}
	if err := mach.SignOwnDevice(ctx, mach.OwnIdentity()); err != nil {
		return "", fmt.Errorf("failed to sign the bot's device: %w", err)
	}
	if err := mach.SignOwnMasterKey(ctx); err != nil {
		return "", fmt.Errorf("failed to sign the bot's master key: %w", err)
	}
	log.Info().Msg("cross-signing set up and the bot's device signed")
	return newRecoveryKey, nil
}
