"""Singer tap for Oracle WMS Cloud (lgfapi)."""
