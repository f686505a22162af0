"""Warehouse, shared record types, settings and errors."""
