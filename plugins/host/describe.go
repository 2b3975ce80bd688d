package host

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"

	"github.com/cloudraya/raya/plugins/sdk"
)

// Describe runs a plugin executable in describe mode (path args...
// describe) and returns what it declares. It fails when the plugin does not
// speak this host's protocol version.
func Describe(ctx context.Context, path string, args ...string) (*sdk.Description, error) {
	cmd := exec.CommandContext(ctx, path, append(slices.Clone(args), "describe")...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("host: %s describe: %w: %s", path, err, strings.TrimSpace(stderr.String()))
	}
	var d sdk.Description
	if err := json.Unmarshal(out, &d); err != nil {
		return nil, fmt.Errorf("host: %s describe: not a plugin description: %w", path, err)
	}
	if !slices.Contains(d.ProtocolVersions, sdk.ProtocolVersion) {
		return &d, fmt.Errorf("host: %s speaks protocol versions %v, this raya speaks %d", path, d.ProtocolVersions, sdk.ProtocolVersion)
	}
	return &d, nil
}
