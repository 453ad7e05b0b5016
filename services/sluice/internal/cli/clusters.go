package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// clusterView is what GET /v1/clusters returns for one cluster (the fields the CLI shows).
type clusterView struct {
	Name          string    `json:"name"`
	URL           string    `json:"url"`
	Engine        string    `json:"engine"`
	State         string    `json:"state"`
	Wish          string    `json:"wish"`
	Slots         int       `json:"slots"`
	Running       int       `json:"running"`
	Queued        int       `json:"queued"`
	LastHeartbeat time.Time `json:"lastHeartbeat"`
	WishReason    string    `json:"wishReason"`
}

// clustersCommand lists the fleet and drains, resumes or deactivates clusters through the
// admin API of a running Sluice.
func clustersCommand() *cobra.Command {
	var server, token, user string
	cmd := &cobra.Command{Use: "clusters", Short: "List the fleet's clusters; drain, resume or deactivate one"}
	cmd.PersistentFlags().StringVar(&server, "server", envOr("SLUICE_SERVER", "http://127.0.0.1:8080"), "Sluice URL (SLUICE_SERVER)")
	cmd.PersistentFlags().StringVar(&token, "token", envOr("SLUICE_ADMIN_TOKEN", ""), "admin API token (SLUICE_ADMIN_TOKEN)")
	cmd.PersistentFlags().StringVar(&user, "user", envOr("USER", ""), "who asks, recorded with drain and deactivate")
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List every cluster with its state, load and what operators asked of it",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			var views []clusterView
			if err := adminCall(c, http.MethodGet, server, "/v1/clusters", token, user, nil, &views); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(c.OutOrStdout(), 2, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTATE\tRUNNING\tQUEUED\tSLOTS\tENGINE\tHEARTBEAT\tURL")
			for _, v := range views {
				age := "-"
				if !v.LastHeartbeat.IsZero() {
					age = time.Since(v.LastHeartbeat).Round(100*time.Millisecond).String() + " ago"
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", v.Name, v.State, v.Running, v.Queued, v.Slots, v.Engine, age, v.URL)
			}
			return tw.Flush()
		},
	}
	cmd.AddCommand(ls)
	for _, action := range []struct{ name, short string }{
		{"drain", "Stop placing queries on a cluster; running queries finish, queued ones go elsewhere; it reports drained once idle"},
		{"resume", "Place queries on a drained or deactivated cluster again"},
		{"deactivate", "Like drain, and keep the cluster out of placement until it is resumed"},
	} {
		var reason string
		sub := &cobra.Command{
			Use:   action.name + " CLUSTER",
			Short: action.short,
			Args:  cobra.ExactArgs(1),
			RunE: func(c *cobra.Command, args []string) error {
				body, _ := json.Marshal(map[string]string{"reason": reason})
				var v clusterView
				path := "/v1/clusters/" + url.PathEscape(args[0]) + "/" + action.name
				if err := adminCall(c, http.MethodPost, server, path, token, user, body, &v); err != nil {
					return err
				}
				fmt.Fprintf(c.OutOrStdout(), "%s: %s\n", v.Name, v.State)
				return nil
			},
		}
		if action.name != "resume" {
			sub.Flags().StringVar(&reason, "reason", "", "why, recorded with the wish")
		}
		cmd.AddCommand(sub)
	}
	return cmd
}

// adminCall makes one admin API request and decodes its JSON answer into out; an error
// answer becomes an error with the server's message.
func adminCall(c *cobra.Command, method, server, path, token, user string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(c.Context(), method, strings.TrimRight(server, "/")+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if user != "" {
		req.Header.Set("X-Trino-User", user)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("sluice at %s: %w", server, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s %s: %s", method, path, e.Error)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	return json.Unmarshal(data, out)
}
