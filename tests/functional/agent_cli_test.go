//go:build functional

package functional

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"opendev.org/openstack/vmmon/tests/bedenv"
	"opendev.org/openstack/vmmon/vmmon/agentmsg"
)

// `vmmon-agent --once` prints the batch of the 200-domain test driver as JSON,
// with no broker configured; a bad configuration stops it with one line that
// names the file, section and option.
func TestAgentCommand(t *testing.T) {
	env := bedenv.Load(t)
	bin := buildCmd(t, "vmmon-agent/cmd/vmmon-agent")
	dir := t.TempDir()
	good := filepath.Join(dir, "vmmon-agent.conf")
	uri := env.Get(t, "VMMON_LIBVIRT_TEST_URI_200")
	if err := os.WriteFile(good, []byte("[DEFAULT]\ntransport_url = rabbit://u:secret@127.0.0.1:1/\n[agent]\nlibvirt_uri = "+uri+"\nhost = cli-host\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--once", "--config-file", good).Output()
	if err != nil {
		t.Fatalf("--once: %v", err)
	}
	var b agentmsg.Batch
	if err := json.Unmarshal(out, &b); err != nil {
		t.Fatalf("--once output is not a batch: %v\n%.500s", err, out)
	}
	if b.Host != "cli-host" || b.Seq != 1 || len(b.Instances) != 200 {
		t.Errorf("batch host %q seq %d with %d instances", b.Host, b.Seq, len(b.Instances))
	}

	bad := filepath.Join(dir, "bad.conf")
	if err := os.WriteFile(bad, []byte("[agent]\ninterval = often\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--once", "--config-file", good, "--config-file", bad)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Run()
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	want := bad + `:2: [agent] interval = "often": expected a number of at least 1`
	if err == nil || len(lines) != 1 || !strings.HasSuffix(lines[0], want) {
		t.Errorf("bad config: exit %v, stderr %q; want one line ending %q", err, stderr.String(), want)
	}
	if strings.Contains(stderr.String(), "secret") {
		t.Error("the transport URL's password reached the error output")
	}
}
