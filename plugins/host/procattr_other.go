//go:build !linux

package host

import "os/exec"

// setProcAttr does nothing here: the SDK exits when it is re-parented.
func setProcAttr(*exec.Cmd) {}
