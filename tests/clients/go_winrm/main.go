// A minimal WinRM client on github.com/masterzen/winrm (Debian: golang-github-masterzen-winrm-dev),
// the independent Go client of tests/clients/test_go_winrm.py. It runs the command line read from
// stdin in a cmd shell and copies the command's stdout/stderr and exit code. The password comes
// from the environment, never from argv.
package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/masterzen/winrm"
)

func main() {
	port, err := strconv.Atoi(os.Getenv("WINRM_PORT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "WINRM_PORT:", err)
		os.Exit(2)
	}
	var ca []byte
	if path := os.Getenv("WINRM_CA"); path != "" {
		if ca, err = os.ReadFile(path); err != nil {
			fmt.Fprintln(os.Stderr, "WINRM_CA:", err)
			os.Exit(2)
		}
	}
	endpoint := winrm.NewEndpoint(os.Getenv("WINRM_HOST"), port, os.Getenv("WINRM_HTTPS") == "1", false, ca, nil, nil, 30*time.Second)
	params := winrm.NewParameters("PT20S", "en-US", 153600)
	if os.Getenv("WINRM_AUTH") == "ntlm" {
		params.TransportDecorator = func() winrm.Transporter { return &winrm.ClientNTLM{} }
	}
	client, err := winrm.NewClientWithParameters(endpoint, os.Getenv("WINRM_USER"), os.Getenv("WINRM_PASSWORD"), params)
	if err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(2)
	}
	command, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stdin:", err)
		os.Exit(2)
	}
	code, err := client.Run(string(command), os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "winrm error:", err)
		os.Exit(111)
	}
	os.Exit(code)
}
