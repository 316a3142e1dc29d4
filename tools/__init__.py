"""What the agent calls: the Helicone request contract, the extended query, and the backends that run them."""
