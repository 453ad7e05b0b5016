// Package natsutil starts an embedded nats-server with JetStream on file storage and opens
// client connections to it or to an external NATS URL.
package natsutil

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrNotReady: the embedded server did not accept connections in time.
var ErrNotReady = errors.New("natsutil: embedded nats-server not ready")

// ServerOptions configures an embedded server.
type ServerOptions struct {
	// StoreDir is the JetStream file store directory (required).
	StoreDir string
	// Host and Port to listen on; Port -1 picks a free port. With DontListen the server
	// accepts in-process connections only.
	Host       string
	Port       int
	DontListen bool
	// Name of the server.
	Name string
	// Debug enables the server's log on stderr.
	Debug bool
	// NoSyncAlways syncs the store on the server's default interval instead of before every
	// acknowledgement. Only benchmarks that prepare large logs use it: it gives up
	// invariant 1 on power loss.
	NoSyncAlways bool
}

// StartServer starts nats-server in this process with JetStream on file storage and every
// write synced to disk before it is acknowledged (sync_interval: always).
func StartServer(o ServerOptions) (*server.Server, error) {
	if o.StoreDir == "" {
		return nil, fmt.Errorf("natsutil: StoreDir is required")
	}
	name := o.Name
	if name == "" {
		name = "sluice-embedded"
	}
	opts := &server.Options{
		ServerName:         name,
		Host:               o.Host,
		Port:               o.Port,
		DontListen:         o.DontListen,
		JetStream:          true,
		StoreDir:           o.StoreDir,
		SyncAlways:         !o.NoSyncAlways,
		JetStreamMaxMemory: 1 << 30,
		NoSigs:             true,
		NoLog:              !o.Debug,
		MaxPayload:         8 << 20,
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsutil: new server: %w", err)
	}
	if o.Debug {
		ns.ConfigureLogger()
	}
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, ErrNotReady
	}
	return ns, nil
}

// Conn is a NATS connection with its JetStream context.
type Conn struct {
	NC *nats.Conn
	JS jetstream.JetStream
}

// Close drains nothing and closes the connection.
func (c *Conn) Close() {
	if c != nil && c.NC != nil {
		c.NC.Close()
	}
}

// Connect opens a connection named name to url, or to the in-process server ns when ns is
// not nil. It retries until ctx ends, so services may start before NATS.
func Connect(ctx context.Context, url string, ns *server.Server, name string) (*Conn, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(true),
	}
	if ns != nil {
		opts = append(opts, nats.InProcessServer(ns))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("natsutil: connect %s: %w", url, err)
	}
	for !nc.IsConnected() {
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			nc.Close()
			return nil, fmt.Errorf("natsutil: connect %s: %w", url, ctx.Err())
		case <-t.C:
		}
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("natsutil: jetstream: %w", err)
	}
	return &Conn{NC: nc, JS: js}, nil
}
