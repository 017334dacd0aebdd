"""The demo: a synthetic credit-risk data set and a tour through the whole product."""
