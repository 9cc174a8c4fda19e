package matrix

import "net/http"

// WrapTransport puts wrap around the transport of every request the client
// makes from now on, e.g. to count them (one call per attempt: mautrix's
// retries go through it again). It must be called before the client is
// used concurrently: before Run and before the actors are given it.
func (c *Client) WrapTransport(wrap func(http.RoundTripper) http.RoundTripper) {
	next := c.cli.Client.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.cli.Client.Transport = wrap(next)
}
