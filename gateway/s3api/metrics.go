package s3api

import (
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Prometheus metrics of the S3 endpoint.
type Metrics struct {
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	metaErrors prometheus.Counter
	inFlight   prometheus.Gauge
}

// NewMetrics registers the endpoint's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "raya_http_requests_total",
			Help: "S3 requests answered, by operation and HTTP status code.",
		}, []string{"operation", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "raya_http_request_duration_seconds",
			Help:    "Time to answer an S3 request, body included, by operation.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"operation"}),
		metaErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "raya_meta_errors_total",
			Help: "Requests refused with 503 because the metadata store failed.",
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "raya_http_requests_in_flight",
			Help: "S3 requests being answered.",
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.metaErrors, m.inFlight)
	return m
}

// errMetaUnavailable marks errors of the metadata store (see storeError).
var errMetaUnavailable = errors.New("metadata store unavailable")

func (m *Metrics) begin() {
	if m != nil {
		m.inFlight.Inc()
	}
}

func (m *Metrics) observe(op string, status int, took time.Duration, err error) {
	if m == nil {
		return
	}
	m.inFlight.Dec()
	if op == "" {
		op = "Other"
	}
	if status == 0 {
		status = 200
	}
	m.requests.WithLabelValues(op, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(op).Observe(took.Seconds())
	if errors.Is(err, errMetaUnavailable) {
		m.metaErrors.Inc()
	}
}
