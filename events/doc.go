// Package events is Sluice's contract between services: every NATS subject, JetStream
// stream, KV bucket and consumer, every event payload, and the CloudEvents binary-mode codec
// (ce-* headers, percent-encoded) with W3C trace context in the same headers.
//
// It holds no service logic. Subjects and names appear nowhere else in the code base;
// README.md in this directory lists them in one table.
package events
