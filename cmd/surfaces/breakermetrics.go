package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/surfaces-bot/surfaces/agents"
)

// circuitCollector exports each agent's circuit breaker at scrape time:
// surfaces_agent_circuit_open{agent} is 1 while its circuit is open.
type circuitCollector struct {
	dialer *agents.Dialer
	desc   *prometheus.Desc
}

func newCircuitCollector(d *agents.Dialer) *circuitCollector {
	return &circuitCollector{dialer: d, desc: prometheus.NewDesc("surfaces_agent_circuit_open",
		"1 from the dial failure that opened the agent's circuit breaker (its dials then fail at once, but for a trial after each cool-down) until a dial succeeds, else 0; by agent id.",
		[]string{"agent"}, nil)}
}

func (c *circuitCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *circuitCollector) Collect(ch chan<- prometheus.Metric) {
	for agent, open := range c.dialer.CircuitsOpen() {
		v := 0.0
		if open {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, agent)
	}
}
