package regionctl

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"go.yaml.in/yaml/v3"
)

// target is where requests go and the token they carry. source names where each came from, for
// error messages (never the token itself).
type target struct {
	server       *url.URL
	serverSource string
	token        string
	tokenSource  string
}

// fileConfig is the config file: server: and token:.
type fileConfig struct {
	Server string `yaml:"server"`
	Token  string `yaml:"token"`
}

// resolveTarget picks the server and the token: flags beat the environment, which beats the
// config file. The file is read only when a flag and its variable are both unset.
func (rc *runContext) resolveTarget() (*target, error) {
	server, serverSource := rc.cli.Server, "--server"
	if server == "" {
		server, serverSource = rc.getenv("REGIOND_URL"), "REGIOND_URL"
	}
	token, tokenSource := rc.cli.Token, "--token"
	if token == "" {
		token, tokenSource = rc.getenv("REGIOND_TOKEN"), "REGIOND_TOKEN"
	}
	if server == "" || token == "" {
		path, explicit := rc.configPath()
		cfg, err := readConfig(path, explicit)
		if err != nil {
			return nil, err
		}
		if server == "" && cfg.Server != "" {
			server, serverSource = cfg.Server, "server: in "+path
		}
		if token == "" && cfg.Token != "" {
			token, tokenSource = cfg.Token, "token: in "+path
		}
	}
	if server == "" {
		return nil, usagef("no server: give --server, set REGIOND_URL, or put server: in %s", rc.defaultConfigPath())
	}
	if token == "" {
		return nil, usagef("no token: set REGIOND_TOKEN, put token: in %s, or give --token", rc.defaultConfigPath())
	}
	u, err := parseServer(server)
	if err != nil {
		return nil, usagef("%s: %v", serverSource, err)
	}
	token = strings.TrimSpace(token)
	if strings.ContainsFunc(token, func(r rune) bool { return r < ' ' || r == 0x7f || r == ' ' }) {
		// Say where it came from, never what it is.
		return nil, usagef("%s: the token contains spaces or control characters", tokenSource)
	}
	return &target{server: u, serverSource: serverSource, token: token, tokenSource: tokenSource}, nil
}

// parseServer accepts an absolute http or https URL; a path is kept as the server's base path.
func parseServer(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("must be an http or https URL such as http://localhost:8080")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("must not have a query or a fragment")
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// configPath is --config, or the default path. explicit says the user named it, so that a
// missing file is an error rather than "no config".
func (rc *runContext) configPath() (path string, explicit bool) {
	if rc.cli.Config != "" {
		return rc.cli.Config, true
	}
	return rc.defaultConfigPath(), false
}

func (rc *runContext) defaultConfigPath() string {
	if dir := rc.getenv("XDG_CONFIG_HOME"); dir != "" {
		return filepath.Join(dir, "regionctl", "config.yaml")
	}
	if home := rc.getenv("HOME"); home != "" {
		return filepath.Join(home, ".config", "regionctl", "config.yaml")
	}
	return "~/.config/regionctl/config.yaml"
}

// readConfig reads the config file. Like ssh with a private key, it refuses a file that holds a
// token and that others can read or write: the token would be anybody's on that machine.
func readConfig(path string, explicit bool) (fileConfig, error) {
	var cfg fileConfig
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return cfg, nil
	}
	if err != nil {
		return cfg, usagef("config file: %v", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, usagef("config file %s: %v (it holds server: and token:)", path, err)
	}
	if cfg.Token != "" && runtime.GOOS != "windows" {
		info, err := os.Stat(path)
		if err != nil {
			return cfg, usagef("config file: %v", err)
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			return cfg, usagef("config file %s holds a token but other users can access it (mode %04o); refusing to use it. Fix it with: chmod 600 %s",
				path, perm, path)
		}
	}
	return cfg, nil
}
