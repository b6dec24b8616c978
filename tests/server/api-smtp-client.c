/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "api-smtp-client.h"

struct _ApiSmtpClient
{
  GSocketConnection *connection;
  GDataInputStream *in;
  GOutputStream *out;
};

/* Reads one (possibly multi-line) reply; returns its code or 0. */
static guint
read_reply (ApiSmtpClient *self,
            GError **error)
{
  for (guint lines = 0; lines < 100; lines++)
    {
      g_autofree char *line = g_data_input_stream_read_line (self->in, NULL, NULL, error);
      char digits[4] = { 0 };
      guint64 code;

      if (line == NULL)
        {
          if (error != NULL && *error == NULL)
            g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "connection closed");
          return 0;
        }
      if (strlen (line) >= 4)
        memcpy (digits, line, 3);
      if (strlen (line) < 4 || !g_ascii_string_to_unsigned (digits, 10, 200, 599, &code, NULL))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "bad reply: %s", line);
          return 0;
        }
      if (line[3] == ' ')
        return (guint)code;
    }
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "reply too long");
  return 0;
}

static gboolean
command (ApiSmtpClient *self,
         const char *text,
         guint expected,
         GError **error)
{
  guint code;

  if (!g_output_stream_write_all (self->out, text, strlen (text), NULL, NULL, error))
    return FALSE;
  code = read_reply (self, error);
  if (code == 0)
    return FALSE;
  if (code != expected)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%.*s: got %u, wanted %u",
                   (int)strcspn (text, "\r"), text, code, expected);
      return FALSE;
    }
  return TRUE;
}

ApiSmtpClient *
api_smtp_connect (guint16 port,
                  GError **error)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  ApiSmtpClient *self = g_new0 (ApiSmtpClient, 1);

  g_socket_client_set_timeout (client, 10);
  self->connection = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, error);
  if (self->connection == NULL)
    {
      g_free (self);
      return NULL;
    }
  self->in = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (self->connection)));
  g_data_input_stream_set_newline_type (self->in, G_DATA_STREAM_NEWLINE_TYPE_CR_LF);
  self->out = g_io_stream_get_output_stream (G_IO_STREAM (self->connection));
  if (read_reply (self, error) != 220 || !command (self, "EHLO client.example\r\n", 250, error))
    {
      api_smtp_close (self);
      return NULL;
    }
  return self;
}

gboolean
api_smtp_send (ApiSmtpClient *self,
               const char *from,
               const char *to,
               const char *message,
               GError **error)
{
  g_autofree char *mail = g_strdup_printf ("MAIL FROM:<%s>\r\n", from);
  g_autofree char *rcpt = g_strdup_printf ("RCPT TO:<%s>\r\n", to);
  g_autofree char *data = g_strconcat (message, "\r\n.\r\n", NULL);

  return command (self, mail, 250, error) && command (self, rcpt, 250, error) && command (self, "DATA\r\n", 354, error) && command (self, data, 250, error);
}

void
api_smtp_close (ApiSmtpClient *self)
{
  if (self == NULL)
    return;
  if (self->out != NULL)
    g_output_stream_write_all (self->out, "QUIT\r\n", 6, NULL, NULL, NULL);
  g_clear_object (&self->in);
  if (self->connection != NULL)
    g_io_stream_close (G_IO_STREAM (self->connection), NULL, NULL);
  g_clear_object (&self->connection);
  g_free (self);
}
