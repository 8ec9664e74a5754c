/* pop3_cmd_auth.c: being written */
