package events

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Publisher publishes lifecycle events as CloudEvents and waits for JetStream's ack.
type Publisher struct {
	js     jetstream.JetStream
	source string
	tracer trace.Tracer
}

// NewPublisher returns a publisher whose events name source (e.g. "sluice/admission").
func NewPublisher(js jetstream.JetStream, source string, tracer trace.Tracer) *Publisher {
	return &Publisher{js: js, source: source, tracer: tracer}
}

// Publish sends payload on subject with the deterministic msgID and waits for the stream's
// ack. A PRODUCER span wraps the publish and its context travels in the headers. The
// returned ack tells whether the stream dropped it as a duplicate.
func (p *Publisher) Publish(ctx context.Context, subject, msgID, queryID, ceType string, payload any, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	msg, span, err := p.encode(ctx, subject, msgID, queryID, ceType, payload)
	defer span.End()
	if err != nil {
		return nil, err
	}
	opts = append(opts, jetstream.WithMsgID(msgID), jetstream.WithRetryAttempts(20))
	ack, err := p.js.PublishMsg(ctx, msg, opts...)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return nil, fmt.Errorf("publish %s %s: %w", subject, msgID, err)
	}
	return ack, nil
}

// PublishAsync sends payload like Publish but does not wait for the stream's ack: the
// returned future reports it. Callers that must not lose the message check the future and
// publish again (the deterministic msgID makes the retry safe).
func (p *Publisher) PublishAsync(ctx context.Context, subject, msgID, queryID, ceType string, payload any) (jetstream.PubAckFuture, error) {
	msg, span, err := p.encode(ctx, subject, msgID, queryID, ceType, payload)
	defer span.End()
	if err != nil {
		return nil, err
	}
	f, err := p.js.PublishMsgAsync(msg, jetstream.WithMsgID(msgID))
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return nil, fmt.Errorf("publish %s %s: %w", subject, msgID, err)
	}
	return f, nil
}

// encode starts the PRODUCER span of a publish and encodes the event inside it.
func (p *Publisher) encode(ctx context.Context, subject, msgID, queryID, ceType string, payload any) (*nats.Msg, trace.Span, error) {
	ctx, span := StartPublishSpan(ctx, p.tracer, subject, msgID, queryID)
	msg, err := Encode(ctx, subject, msgID, p.source, ceType, queryID, payload)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	return msg, span, err
}
