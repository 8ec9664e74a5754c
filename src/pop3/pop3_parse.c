/* pop3_parse.c: being written */
