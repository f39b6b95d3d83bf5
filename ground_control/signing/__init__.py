"""Ground control's side of signed messages: its own key (signing missions and commands), the
vehicles' keys (verifying events) and the proofs of delivery they sign. See docs/security.md."""
