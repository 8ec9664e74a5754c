/* passwd.c: being written */
