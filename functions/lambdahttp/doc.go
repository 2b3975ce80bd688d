// Package lambdahttp is Raya's AWS Lambda transport: it turns the HTTP
// events Lambda delivers (Function URL, API Gateway HTTP API payload 2.0,
// API Gateway REST API / payload 1.0, Application Load Balancer) into
// *http.Request values for the one S3 http.Handler that `raya serve` also
// runs, and turns that handler's response back into what each event source
// expects: a response stream for Function URLs in RESPONSE_STREAM mode, a
// buffered JSON response for the others.
//
// # What the conversion keeps
//
// SigV4 signs the method, the path, the query string, the host and a chosen
// set of headers exactly as the client sent them, so the conversion keeps
// each of them byte for byte where the event carries it and rebuilds it
// canonically-equivalently where it does not:
//
//   - Path: the path is normalized to an escaped path without decoding what
//     is already escaped (see [PathEncoding]); the request's RequestURI and
//     URL.RawPath carry it, so neither routing nor signing ever sees a
//     cleaned or re-decoded key. `%`, `+`, spaces, `?`, `#` and `//` in keys
//     survive.
//   - Query: rawQueryString (payload 2.0) and ALB's undecoded parameters
//     are used as they are; REST's decoded parameters are re-encoded with
//     the SigV4 encoding, which yields the same canonical query.
//   - Headers: every value is kept whole. Nothing is split on commas (the
//     trap of aws-lambda-go-api-proxy's 2.0 adapter): the canonical form of
//     a header is its values joined by ",", which is exactly what Lambda's
//     single-value maps hold.
//   - Host: the host header of the event, replaced by [Options.PublicHost]
//     when the event carries an AWS-generated domain (*.amazonaws.com,
//     *.on.aws) that the client did not sign.
//
// # Payload limits
//
// Lambda caps synchronous invocations at 6 MiB of event JSON each way (ALB
// at 1 MB), and binary bodies travel base64-encoded (4/3 larger). Requests
// whose declared or actual body is over the limit get EntityTooLarge;
// buffered responses over it get [ErrResponseTooLarge]; both are S3 XML
// errors rendered by package s3err, never a bare 502 from the platform
// when the handler can see the problem first. Function URL responses stream
// and are capped only by [Options.MaxStreamBody].
package lambdahttp
