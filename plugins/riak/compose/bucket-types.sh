#!/bin/bash
# Bucket types the plugin's tests use (run by basho/riak-kv after the node starts).
riak-admin bucket-type create strong '{"props":{"consistent":true}}' || true
riak-admin bucket-type activate strong || true
riak-admin bucket-type create siblings '{"props":{"allow_mult":true}}' || true
riak-admin bucket-type activate siblings || true
