package regionctl_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/regiond/regiond/internal/testsupport/apitest"
)

// writeConfig writes a config file with mode perm.
func writeConfig(t *testing.T, path, server, tok string, perm os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if server != "" {
		b.WriteString("server: " + server + "\n")
	}
	if tok != "" {
		b.WriteString("token: " + tok + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil { // WriteFile's mode is filtered by the umask
		t.Fatal(err)
	}
}

func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "http://" + ln.Addr().String()
}

// TestConfigPrecedence: flags beat the environment, which beats the config file. A dead server URL
// or a wrong token in one place shows which place was used.
func TestConfigPrecedence(t *testing.T) {
	h := start(t, apitest.Options{})
	good, dead := h.e.URL, deadURL(t)
	wrong := "rgd_wrong_token_for_precedence_0123456789"
	h.secrets = append(h.secrets, wrong)
	home := h.env["HOME"]
	homeConfig := filepath.Join(home, ".config", "regionctl", "config.yaml")
	clear(h.env)
	h.env["HOME"] = home

	// The file alone (the default path under HOME).
	writeConfig(t, homeConfig, good, h.e.Admin, 0o600)
	h.ok("list")

	// The environment beats the file.
	h.env["REGIOND_URL"] = dead
	h.fails(1, []string{"cannot reach the server at " + dead + " (from REGIOND_URL)"}, "list")
	h.env["REGIOND_URL"] = good
	h.env["REGIOND_TOKEN"] = wrong
	h.fails(1, []string{"401 Unauthorized"}, "list")

	// Flags beat the environment.
	h.ok("--token", h.e.Admin, "list")
	h.env["REGIOND_TOKEN"] = h.e.Admin
	h.fails(1, []string{"cannot reach the server at " + dead + " (from --server)"}, "--server", dead, "list")
	h.env["REGIOND_URL"] = dead
	h.ok("--server", good, "list")
	h.fails(1, []string{"401 Unauthorized"}, "--server", good, "--token", wrong, "list")

	// Each value falls back on its own: the server from the environment, the token from the file.
	delete(h.env, "REGIOND_TOKEN")
	h.env["REGIOND_URL"] = good
	writeConfig(t, homeConfig, dead, h.e.Admin, 0o600)
	h.ok("list")

	// $XDG_CONFIG_HOME beats ~/.config; --config beats both.
	clear(h.env)
	h.env["HOME"] = home
	xdg := t.TempDir()
	h.env["XDG_CONFIG_HOME"] = xdg
	writeConfig(t, filepath.Join(xdg, "regionctl", "config.yaml"), good, wrong, 0o600)
	writeConfig(t, homeConfig, good, h.e.Admin, 0o600)
	h.fails(1, []string{"401 Unauthorized"}, "list")
	other := filepath.Join(t.TempDir(), "other.yaml")
	writeConfig(t, other, good, h.e.Admin, 0o600)
	h.ok("--config", other, "list")

	// A --config that does not exist is an error; a default one that does not exist is no config.
	h.fails(2, []string{"config file: ", "nope.yaml"}, "--config", filepath.Join(t.TempDir(), "nope.yaml"), "list")
	h.env["XDG_CONFIG_HOME"] = t.TempDir()
	h.env["HOME"] = t.TempDir()
	h.fails(2, []string{"no server"}, "list")

	// Unknown keys are refused, naming the file.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("server: "+good+"\ntokn: x\n"), 0o600)
	h.fails(2, []string{"config file " + bad, "tokn"}, "--config", bad, "list")
}

// TestConfigPermissions: like ssh, a config file that holds a token must be private.
func TestConfigPermissions(t *testing.T) {
	h := start(t, apitest.Options{})
	path := filepath.Join(t.TempDir(), "config.yaml")
	delete(h.env, "REGIOND_TOKEN")

	for _, perm := range []os.FileMode{0o644, 0o640, 0o604, 0o620} {
		writeConfig(t, path, h.e.URL, h.e.Admin, perm)
		h.fails(2, []string{"config file " + path + " holds a token but other users can access it", "chmod 600 " + path}, "--config", path, "list")
	}
	writeConfig(t, path, h.e.URL, h.e.Admin, 0o600)
	h.ok("--config", path, "list")
	writeConfig(t, path, h.e.URL, h.e.Admin, 0o400)
	h.ok("--config", path, "list")

	// Without a token the file may be public: it names only the server.
	h.env["REGIOND_TOKEN"] = h.e.Admin
	delete(h.env, "REGIOND_URL")
	writeConfig(t, path, h.e.URL, "", 0o644)
	h.ok("--config", path, "list")
}
