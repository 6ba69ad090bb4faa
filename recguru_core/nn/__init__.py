"""The networks and their losses, as pure modules and functions: layers, the RecGURU model
(encoder, decoders, CDSRec, critic) and every loss. Above common only."""
