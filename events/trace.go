package events

import (
	"context"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// HeaderCarrier adapts nats.Header (case-sensitive) to the OpenTelemetry TextMapCarrier,
// so traceparent travels in lower case next to the ce-* headers.
type HeaderCarrier nats.Header

var _ propagation.TextMapCarrier = HeaderCarrier{}

// Get returns the first value of key.
func (c HeaderCarrier) Get(key string) string { return nats.Header(c).Get(key) }

// Set replaces the value of key.
func (c HeaderCarrier) Set(key, value string) { nats.Header(c).Set(key, value) }

// Keys lists the header names.
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// InjectTrace writes the trace context of ctx into h.
func InjectTrace(ctx context.Context, h nats.Header) {
	otel.GetTextMapPropagator().Inject(ctx, HeaderCarrier(h))
}

// ExtractTrace returns ctx with the remote span context carried by h.
func ExtractTrace(ctx context.Context, h nats.Header) context.Context {
	return otel.GetTextMapPropagator().Extract(ctx, HeaderCarrier(h))
}

// Messaging semantic-convention attribute keys used on every NATS span.
const (
	attrSystem        = attribute.Key("messaging.system")
	attrOperationName = attribute.Key("messaging.operation.name")
	attrOperationType = attribute.Key("messaging.operation.type")
	attrDestination   = attribute.Key("messaging.destination.name")
	attrMessageID     = attribute.Key("messaging.message.id")
	attrConsumer      = attribute.Key("messaging.consumer.group.name")
	attrBodySize      = attribute.Key("messaging.message.body.size")
	// AttrQueryID is the attribute naming the query a span belongs to.
	AttrQueryID = attribute.Key("sluice.query.id")
)

// StartPublishSpan starts a PRODUCER span "publish <subject>" following the messaging
// semantic conventions. Its context is the one to inject into the message.
func StartPublishSpan(ctx context.Context, tracer trace.Tracer, subject, msgID, queryID string) (context.Context, trace.Span) {
	return tracer.Start(ctx, "publish "+subject,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attrSystem.String("nats"),
			attrOperationName.String("publish"),
			attrOperationType.String("send"),
			attrDestination.String(subject),
			attrMessageID.String(msgID),
			AttrQueryID.String(queryID),
		))
}

// StartProcessSpan starts a CONSUMER span "process <subject>" whose parent is the producer
// span carried in the message headers.
func StartProcessSpan(ctx context.Context, tracer trace.Tracer, h nats.Header, subject, consumer string, bodySize int) (context.Context, trace.Span) {
	return startConsumerSpan(ExtractTrace(ctx, h), tracer, subject, consumer, h.Get(nats.MsgIdHdr), attrBodySize.Int(bodySize))
}

// startConsumerSpan starts the CONSUMER span "process <subject>" of message msgID under ctx.
func startConsumerSpan(ctx context.Context, tracer trace.Tracer, subject, consumer, msgID string, extra ...attribute.KeyValue) (context.Context, trace.Span) {
	attrs := append([]attribute.KeyValue{
		attrSystem.String("nats"),
		attrOperationName.String("process"),
		attrOperationType.String("process"),
		attrDestination.String(subject),
		attrConsumer.String(consumer),
		attrMessageID.String(msgID),
	}, extra...)
	return tracer.Start(ctx, "process "+subject, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attrs...))
}

// TraceMap returns the trace context of ctx as a map, for an item of a batch message
// (the message's headers carry the batch's own).
func TraceMap(ctx context.Context) map[string]string {
	m := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, m)
	if len(m) == 0 {
		return nil
	}
	return m
}

// StartItemSpan starts a CONSUMER span "process <subject>" for one item of a batch
// message, whose parent is the producer context the item carries (see TraceMap).
func StartItemSpan(ctx context.Context, tracer trace.Tracer, carried map[string]string, subject, consumer, itemID string) (context.Context, trace.Span) {
	return startConsumerSpan(otel.GetTextMapPropagator().Extract(ctx, propagation.MapCarrier(carried)), tracer, subject, consumer, itemID)
}
