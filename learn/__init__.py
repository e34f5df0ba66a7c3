"""Training and data roles for the learned reader and gate; nothing here runs when answering."""
