/* pop3_events.c: being written */
