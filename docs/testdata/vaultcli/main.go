// Command vaultcli stands in for HashiCorp's vault CLI in the docs test:
// Debian does not package the CLI and the Go module proxy is no place to
// fetch its release binary, so this runs the subcommands the guide uses,
// with the CLI's flags and output, against the real Vault server
// (VAULT_ADDR, VAULT_TOKEN) through Vault's Go client:
//
//	vault secrets enable -path=P kv-v2|kv
//	vault auth enable [-path=P] TYPE
//	vault auth list -format=json
//	vault policy write NAME FILE|-
//	vault read [-field=F] PATH
//	vault write [-f] [-field=F] PATH [k=v ...]
//
// Anything else is an error (exit 2), so a guide command it does not know
// fails the docs test instead of passing unrun.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hashicorp/vault/api"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "vault (docs test stand-in):", err)
		var u usage
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usage struct{ error }

// flags splits "-name=value" and "-name" options (before the positional
// arguments, as the CLI takes them) from the rest.
func flags(args []string) (map[string]string, []string) {
	opts := map[string]string{}
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		k, v, _ := strings.Cut(strings.TrimLeft(args[0], "-"), "=")
		opts[k] = v
		args = args[1:]
	}
	return opts, args
}

func run(args []string) error {
	if len(args) == 0 {
		return usage{errors.New("no command")}
	}
	c, err := api.NewClient(api.DefaultConfig()) // VAULT_ADDR, VAULT_TOKEN
	if err != nil {
		return err
	}
	cmd := args[0]
	if cmd == "secrets" || cmd == "auth" || cmd == "policy" {
		if len(args) < 2 {
			return usage{fmt.Errorf("%s: no subcommand", cmd)}
		}
		cmd += " " + args[1]
		args = args[1:]
	}
	opts, pos := flags(args[1:])
	switch cmd {
	case "secrets enable":
		if len(pos) != 1 {
			return usage{errors.New("secrets enable: want one engine type")}
		}
		in := &api.MountInput{Type: pos[0]}
		if pos[0] == "kv-v2" {
			in = &api.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}
		}
		path := opts["path"]
		if path == "" {
			path = pos[0]
		}
		if err := c.Sys().Mount(path, in); err != nil {
			return err
		}
		fmt.Printf("Success! Enabled the %s secrets engine at: %s/\n", pos[0], strings.TrimSuffix(path, "/"))
	case "auth enable":
		if len(pos) != 1 {
			return usage{errors.New("auth enable: want one method")}
		}
		path := opts["path"]
		if path == "" {
			path = pos[0]
		}
		if err := c.Sys().EnableAuthWithOptions(path, &api.EnableAuthOptions{Type: pos[0]}); err != nil {
			return err
		}
		fmt.Printf("Success! Enabled %s auth method at: %s/\n", pos[0], strings.TrimSuffix(path, "/"))
	case "auth list":
		if opts["format"] != "json" {
			return usage{errors.New("auth list: only -format=json")}
		}
		auths, err := c.Sys().ListAuth()
		if err != nil {
			return err
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(auths)
	case "policy write":
		if len(pos) != 2 {
			return usage{errors.New("policy write: want NAME FILE|-")}
		}
		var b []byte
		if pos[1] == "-" {
			b, err = io.ReadAll(os.Stdin)
		} else {
			b, err = os.ReadFile(pos[1])
		}
		if err != nil {
			return err
		}
		if err := c.Sys().PutPolicy(pos[0], string(b)); err != nil {
			return err
		}
		fmt.Printf("Success! Uploaded policy: %s\n", pos[0])
	case "read":
		if len(pos) != 1 {
			return usage{errors.New("read: want one path")}
		}
		s, err := c.Logical().Read(pos[0])
		if err != nil {
			return err
		}
		if s == nil {
			return fmt.Errorf("no value found at %s", pos[0])
		}
		return output(s, opts["field"])
	case "write":
		if len(pos) < 1 {
			return usage{errors.New("write: want a path")}
		}
		data := map[string]any{}
		for _, kv := range pos[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return usage{fmt.Errorf("write: %q is not key=value", kv)}
			}
			data[k] = v
		}
		_, force := opts["f"]
		_, force2 := opts["force"]
		if len(data) == 0 && !force && !force2 {
			return usage{errors.New("write: no data (use -f to write none)")}
		}
		s, err := c.Logical().Write(pos[0], data)
		if err != nil {
			return err
		}
		if s == nil {
			fmt.Printf("Success! Data written to: %s\n", pos[0])
			return nil
		}
		return output(s, opts["field"])
	default:
		return usage{fmt.Errorf("%q is not a command this stand-in knows", cmd)}
	}
	return nil
}

// output prints a response as the CLI does with -field (the value alone,
// no newline) or as JSON.
func output(s *api.Secret, field string) error {
	if field == "" {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	v, ok := s.Data[field]
	if !ok {
		return fmt.Errorf("field %q not present in secret", field)
	}
	fmt.Print(v)
	return nil
}
