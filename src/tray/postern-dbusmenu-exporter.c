/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "postern-dbusmenu-exporter.h"

#include <string.h>

/*
 * com.canonical.dbusmenu (version 3) from a GMenuModel over a GActionGroup,
 * the mapping Dino uses: the menu is defined once, as a model, and this file
 * only translates. The exported tree is a snapshot rebuilt from an idle after
 * any change, so a burst of changes becomes one LayoutUpdated; ids are kept
 * for items whose label, action and target under the same parent did not
 * change and fresh for those that did, so a click on a stale id never
 * reaches an item that does something else.
 *
 * Mapping: sections become separators between non-empty groups; submenu
 * links become items with children-display "submenu"; labels pass through
 * with their "_" mnemonics; a missing or disabled action gives
 * enabled=false; a stateful boolean action without a target gives a
 * checkmark, a target of the state's type a radio item.
 */

#define DBUSMENU_INTERFACE "com.canonical.dbusmenu"

/* Bounds on what a (possibly recursive) model can make us export. */
#define MAX_DEPTH 8
#define MAX_ITEMS 2000

typedef struct
{
  int id;
  GVariant *props;     /* a{sv}, non-default values only */
  GPtrArray *children; /* MenuItem *, owned by the tree's table */
  char *action;        /* resolved name in the action group, or NULL */
  GVariant *target;
} MenuItem;

typedef struct
{
  GHashTable *items; /* id → MenuItem * (owned) */
  GPtrArray *order;  /* MenuItem *, tree order */
  GHashTable *keys;  /* identity key → id */
} MenuTree;

struct _PosternDbusmenuExporter
{
  GObject parent_instance;

  GDBusConnection *connection;
  char *object_path;
  GMenuModel *model;
  GActionGroup *actions;
  char *status;
  char *text_direction;

  guint registration_id;
  guint revision;
  int last_id;
  MenuTree *tree;
  GPtrArray *watched_models; /* WatchedModel * */
  gulong action_handlers[4];
  guint update_source;
  GQueue clicks;    /* PendingActivation *, in the order of the clicks */
  guint n_flushing; /* how many of them the running flush covers */
  gboolean flushing;
};

typedef struct
{
  GMenuModel *model;
  gulong handler;
} WatchedModel;

G_DEFINE_FINAL_TYPE (PosternDbusmenuExporter, postern_dbusmenu_exporter, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_CONNECTION,
  PROP_OBJECT_PATH,
  PROP_MODEL,
  PROP_ACTIONS,
  PROP_STATUS,
  PROP_TEXT_DIRECTION,
  PROP_REVISION,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static const char menu_xml[] = "<node>"
                               "  <interface name='com.canonical.dbusmenu'>"
                               "    <property name='Version' type='u' access='read'/>"
                               "    <property name='TextDirection' type='s' access='read'/>"
                               "    <property name='Status' type='s' access='read'/>"
                               "    <property name='IconThemePath' type='as' access='read'/>"
                               "    <method name='GetLayout'>"
                               "      <arg name='parentId' type='i' direction='in'/>"
                               "      <arg name='recursionDepth' type='i' direction='in'/>"
                               "      <arg name='propertyNames' type='as' direction='in'/>"
                               "      <arg name='revision' type='u' direction='out'/>"
                               "      <arg name='layout' type='(ia{sv}av)' direction='out'/>"
                               "    </method>"
                               "    <method name='GetGroupProperties'>"
                               "      <arg name='ids' type='ai' direction='in'/>"
                               "      <arg name='propertyNames' type='as' direction='in'/>"
                               "      <arg name='properties' type='a(ia{sv})' direction='out'/>"
                               "    </method>"
                               "    <method name='GetProperty'>"
                               "      <arg name='id' type='i' direction='in'/>"
                               "      <arg name='name' type='s' direction='in'/>"
                               "      <arg name='value' type='v' direction='out'/>"
                               "    </method>"
                               "    <method name='Event'>"
                               "      <arg name='id' type='i' direction='in'/>"
                               "      <arg name='eventId' type='s' direction='in'/>"
                               "      <arg name='data' type='v' direction='in'/>"
                               "      <arg name='timestamp' type='u' direction='in'/>"
                               "    </method>"
                               "    <method name='EventGroup'>"
                               "      <arg name='events' type='a(isvu)' direction='in'/>"
                               "      <arg name='idErrors' type='ai' direction='out'/>"
                               "    </method>"
                               "    <method name='AboutToShow'>"
                               "      <arg name='id' type='i' direction='in'/>"
                               "      <arg name='needUpdate' type='b' direction='out'/>"
                               "    </method>"
                               "    <method name='AboutToShowGroup'>"
                               "      <arg name='ids' type='ai' direction='in'/>"
                               "      <arg name='updatesNeeded' type='ai' direction='out'/>"
                               "      <arg name='idErrors' type='ai' direction='out'/>"
                               "    </method>"
                               "    <signal name='ItemsPropertiesUpdated'>"
                               "      <arg name='updatedProps' type='a(ia{sv})'/>"
                               "      <arg name='removedProps' type='a(ias)'/>"
                               "    </signal>"
                               "    <signal name='LayoutUpdated'>"
                               "      <arg name='revision' type='u'/>"
                               "      <arg name='parent' type='i'/>"
                               "    </signal>"
                               "    <signal name='ItemActivationRequested'>"
                               "      <arg name='id' type='i'/>"
                               "      <arg name='timestamp' type='u'/>"
                               "    </signal>"
                               "  </interface>"
                               "</node>";

static GDBusInterfaceInfo *
get_interface_info (void)
{
  static GDBusNodeInfo *node_info;

  if (g_once_init_enter (&node_info))
    {
      g_autoptr (GError) error = NULL;
      GDBusNodeInfo *info = g_dbus_node_info_new_for_xml (menu_xml, &error);

      /* The XML is a constant of this file: failing to parse it is a bug. */
      g_assert_no_error (error);
      g_once_init_leave (&node_info, info);
    }

  return node_info->interfaces[0];
}

/* The tree */

static void
menu_item_free (gpointer data)
{
  MenuItem *item = data;

  g_clear_pointer (&item->props, g_variant_unref);
  g_clear_pointer (&item->children, g_ptr_array_unref);
  g_clear_pointer (&item->target, g_variant_unref);
  g_free (item->action);
  g_free (item);
}

static MenuTree *
menu_tree_new (void)
{
  MenuTree *tree = g_new0 (MenuTree, 1);

  tree->items = g_hash_table_new_full (NULL, NULL, NULL, menu_item_free);
  tree->order = g_ptr_array_new ();
  tree->keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return tree;
}

static void
menu_tree_free (MenuTree *tree)
{
  g_ptr_array_unref (tree->order);
  g_hash_table_unref (tree->items);
  g_hash_table_unref (tree->keys);
  g_free (tree);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MenuTree, menu_tree_free)

static MenuItem *
menu_tree_lookup (MenuTree *tree,
                  int id)
{
  return g_hash_table_lookup (tree->items, GINT_TO_POINTER (id));
}

typedef struct
{
  PosternDbusmenuExporter *self;
  MenuTree *tree;
  MenuTree *previous;
  GHashTable *seen_models;
  GHashTable *key_counts; /* identity → occurrences so far in this build */
} Builder;

static void
watch_model (Builder *builder,
             GMenuModel *model);

/* Reuses the previous id of an item with the same identity, so unchanged
 * items keep theirs across rebuilds. */
static MenuItem *
add_item (Builder *builder,
          MenuItem *parent,
          const char *key,
          GVariant *props)
{
  PosternDbusmenuExporter *self = builder->self;
  MenuItem *item = g_new0 (MenuItem, 1);
  gpointer old_id = NULL;

  if (builder->previous != NULL && g_hash_table_lookup_extended (builder->previous->keys, key, NULL, &old_id) && !g_hash_table_contains (builder->tree->items, old_id))
    item->id = GPOINTER_TO_INT (old_id);
  else
    {
      /* Ids are positive int32; wrapping after two billion rebuilt items is
       * not a concern, but stay within range regardless. */
      if (self->last_id >= G_MAXINT32)
        self->last_id = 0;
      item->id = ++self->last_id;
    }

  item->props = g_variant_ref_sink (props);
  item->children = g_ptr_array_new ();
  g_hash_table_insert (builder->tree->items, GINT_TO_POINTER (item->id), item);
  g_hash_table_insert (builder->tree->keys, g_strdup (key), GINT_TO_POINTER (item->id));
  g_ptr_array_add (builder->tree->order, item);
  if (parent != NULL)
    g_ptr_array_add (parent->children, item);
  return item;
}

static char *
resolve_action (PosternDbusmenuExporter *self,
                const char *name)
{
  const char *dot;

  if (name == NULL)
    return NULL;
  if (g_action_group_has_action (self->actions, name))
    return g_strdup (name);

  /* "app.quit" in a model over the application's own group, which knows the
   * action as "quit". */
  dot = strchr (name, '.');
  if (dot != NULL && g_action_group_has_action (self->actions, dot + 1))
    return g_strdup (dot + 1);
  return NULL;
}

static gboolean
target_fits (PosternDbusmenuExporter *self,
             const char *action,
             GVariant *target)
{
  const GVariantType *parameter_type = g_action_group_get_action_parameter_type (self->actions, action);

  if (parameter_type == NULL)
    return target == NULL;
  return target != NULL && g_variant_is_of_type (target, parameter_type);
}

static GVariant *
item_props (PosternDbusmenuExporter *self,
            GMenuModel *model,
            int index,
            const char *label,
            const char *action_attribute,
            const char *action,
            GVariant *target,
            gboolean has_submenu)
{
  GVariantBuilder props;
  g_autoptr (GVariant) icon_value = NULL;
  g_autofree char *hidden_when = NULL;
  gboolean enabled;
  gboolean visible = TRUE;

  g_variant_builder_init (&props, G_VARIANT_TYPE_VARDICT);

  if (label != NULL)
    g_variant_builder_add (&props, "{sv}", "label", g_variant_new_string (label));

  icon_value = g_menu_model_get_item_attribute_value (model, index, G_MENU_ATTRIBUTE_ICON, NULL);
  if (icon_value != NULL)
    {
      g_autoptr (GIcon) icon = g_icon_deserialize (icon_value);

      if (G_IS_THEMED_ICON (icon))
        {
          const char *const *names = g_themed_icon_get_names (G_THEMED_ICON (icon));

          if (names != NULL && names[0] != NULL)
            g_variant_builder_add (&props, "{sv}", "icon-name", g_variant_new_string (names[0]));
        }
    }

  if (has_submenu)
    g_variant_builder_add (&props, "{sv}", "children-display", g_variant_new_string ("submenu"));

  /* As GTK does: an item whose action is missing or disabled is insensitive,
   * and so is a plain item without any action (a heading). */
  if (action_attribute != NULL)
    enabled = action != NULL && g_action_group_get_action_enabled (self->actions, action) && target_fits (self, action, target);
  else
    enabled = has_submenu;
  if (!enabled)
    g_variant_builder_add (&props, "{sv}", "enabled", g_variant_new_boolean (FALSE));

  g_menu_model_get_item_attribute (model, index, "hidden-when", "s", &hidden_when);
  if (g_strcmp0 (hidden_when, "action-missing") == 0)
    visible = action != NULL;
  else if (g_strcmp0 (hidden_when, "action-disabled") == 0)
    visible = action != NULL && g_action_group_get_action_enabled (self->actions, action);
  if (!visible)
    g_variant_builder_add (&props, "{sv}", "visible", g_variant_new_boolean (FALSE));

  if (action != NULL)
    {
      g_autoptr (GVariant) state = g_action_group_get_action_state (self->actions, action);

      if (state != NULL && target == NULL && g_variant_is_of_type (state, G_VARIANT_TYPE_BOOLEAN))
        {
          g_variant_builder_add (&props, "{sv}", "toggle-type", g_variant_new_string ("checkmark"));
          g_variant_builder_add (&props, "{sv}", "toggle-state",
                                 g_variant_new_int32 (g_variant_get_boolean (state) ? 1 : 0));
        }
      else if (state != NULL && target != NULL && g_variant_is_of_type (target, g_variant_get_type (state)))
        {
          g_variant_builder_add (&props, "{sv}", "toggle-type", g_variant_new_string ("radio"));
          g_variant_builder_add (&props, "{sv}", "toggle-state",
                                 g_variant_new_int32 (g_variant_equal (state, target) ? 1 : 0));
        }
    }

  return g_variant_builder_end (&props);
}

static GVariant *
separator_props (void)
{
  GVariantBuilder props;

  g_variant_builder_init (&props, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&props, "{sv}", "type", g_variant_new_string ("separator"));
  return g_variant_builder_end (&props);
}

static void
append_model (Builder *builder,
              MenuItem *parent,
              GMenuModel *model,
              guint depth,
              gboolean *separator_pending);

static void
append_menu_item (Builder *builder,
                  MenuItem *parent,
                  GMenuModel *model,
                  int index,
                  guint depth,
                  gboolean *separator_pending)
{
  PosternDbusmenuExporter *self = builder->self;
  g_autofree char *label = NULL;
  g_autofree char *action_attribute = NULL;
  g_autofree char *action = NULL;
  g_autofree char *target_text = NULL;
  g_autofree char *key = NULL;
  g_autoptr (GVariant) target = NULL;
  g_autoptr (GMenuModel) submenu = NULL;
  MenuItem *item;

  if (*separator_pending && parent->children->len > 0)
    {
      g_autofree char *separator_key = g_strdup_printf ("%d|separator|%u", parent->id,
                                                        parent->children->len);

      add_item (builder, parent, separator_key, separator_props ());
    }
  *separator_pending = FALSE;

  g_menu_model_get_item_attribute (model, index, G_MENU_ATTRIBUTE_LABEL, "s", &label);
  g_menu_model_get_item_attribute (model, index, G_MENU_ATTRIBUTE_ACTION, "s", &action_attribute);
  target = g_menu_model_get_item_attribute_value (model, index, G_MENU_ATTRIBUTE_TARGET, NULL);
  submenu = g_menu_model_get_item_link (model, index, G_MENU_LINK_SUBMENU);
  action = resolve_action (self, action_attribute);

  /* An item's identity is what it shows and does under its parent, not
   * where it sits or which GMenu holds it: a model rebuilt with the same
   * items, or an item inserted before others, leaves the others' ids alone.
   * Identical twins are told apart by their order. */
  target_text = target ? g_variant_print (target, TRUE) : NULL;
  {
    g_autofree char *identity = g_strdup_printf ("%d|%s|%s|%s|%s", parent->id,
                                                 label ? label : "",
                                                 action_attribute ? action_attribute : "",
                                                 target_text ? target_text : "",
                                                 submenu ? "submenu" : "");
    guint seen = GPOINTER_TO_UINT (g_hash_table_lookup (builder->key_counts, identity));

    key = g_strdup_printf ("%s|%u", identity, seen);
    g_hash_table_insert (builder->key_counts, g_steal_pointer (&identity), GUINT_TO_POINTER (seen + 1));
  }

  item = add_item (builder, parent, key,
                   item_props (self, model, index, label, action_attribute, action,
                               target, submenu != NULL));
  item->action = g_steal_pointer (&action);
  item->target = target ? g_variant_ref (target) : NULL;

  if (submenu != NULL && depth < MAX_DEPTH)
    {
      gboolean pending = FALSE;

      append_model (builder, item, submenu, depth + 1, &pending);
    }
}

static void
append_model (Builder *builder,
              MenuItem *parent,
              GMenuModel *model,
              guint depth,
              gboolean *separator_pending)
{
  int n_items;

  watch_model (builder, model);
  n_items = g_menu_model_get_n_items (model);

  for (int i = 0; i < n_items; i++)
    {
      g_autoptr (GMenuModel) section = NULL;

      if (g_hash_table_size (builder->tree->items) >= MAX_ITEMS)
        {
          g_debug ("Menu truncated at %d items", MAX_ITEMS);
          return;
        }

      section = g_menu_model_get_item_link (model, i, G_MENU_LINK_SECTION);
      if (section != NULL)
        {
          if (depth >= MAX_DEPTH)
            continue;
          /* A section is a group of its own: separated from what comes
           * before and after it, but only where both sides have items. */
          *separator_pending = TRUE;
          append_model (builder, parent, section, depth + 1, separator_pending);
          *separator_pending = TRUE;
        }
      else
        {
          append_menu_item (builder, parent, model, i, depth, separator_pending);
        }
    }
}

static void
model_items_changed_cb (PosternDbusmenuExporter *self,
                        int position,
                        int removed,
                        int added,
                        GMenuModel *model);

static void
watch_model (Builder *builder,
             GMenuModel *model)
{
  PosternDbusmenuExporter *self = builder->self;
  WatchedModel *watched;

  if (!g_hash_table_add (builder->seen_models, model))
    return;

  watched = g_new0 (WatchedModel, 1);
  watched->model = g_object_ref (model);
  watched->handler = g_signal_connect_object (model, "items-changed",
                                              G_CALLBACK (model_items_changed_cb),
                                              self, G_CONNECT_SWAPPED);
  g_ptr_array_add (self->watched_models, watched);
}

static void
watched_model_free (gpointer data)
{
  WatchedModel *watched = data;

  g_signal_handler_disconnect (watched->model, watched->handler);
  g_object_unref (watched->model);
  g_free (watched);
}

static MenuTree *
build_tree (PosternDbusmenuExporter *self,
            MenuTree *previous)
{
  g_autoptr (GHashTable) seen_models = g_hash_table_new (NULL, NULL);
  GVariantBuilder root_props;
  g_autoptr (GHashTable) key_counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  Builder builder = { self, menu_tree_new (), previous, seen_models, key_counts };
  gboolean separator_pending = FALSE;
  MenuItem *root;

  g_ptr_array_set_size (self->watched_models, 0);

  g_variant_builder_init (&root_props, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&root_props, "{sv}", "children-display", g_variant_new_string ("submenu"));
  root = g_new0 (MenuItem, 1);
  root->id = 0;
  root->props = g_variant_ref_sink (g_variant_builder_end (&root_props));
  root->children = g_ptr_array_new ();
  g_hash_table_insert (builder.tree->items, GINT_TO_POINTER (0), root);
  g_ptr_array_add (builder.tree->order, root);

  append_model (&builder, root, self->model, 0, &separator_pending);
  return builder.tree;
}

/* Serialising */

static GVariant *
filter_props (GVariant *props,
              const char *const *names)
{
  GVariantBuilder filtered;

  if (names == NULL || names[0] == NULL)
    return g_variant_ref (props);

  g_variant_builder_init (&filtered, G_VARIANT_TYPE_VARDICT);
  for (guint i = 0; names[i] != NULL; i++)
    {
      g_autoptr (GVariant) value = g_variant_lookup_value (props, names[i], NULL);

      if (value != NULL)
        g_variant_builder_add (&filtered, "{sv}", names[i], value);
    }
  return g_variant_ref_sink (g_variant_builder_end (&filtered));
}

static GVariant *
layout_of (MenuItem *item,
           int depth,
           const char *const *names)
{
  g_autoptr (GVariant) props = filter_props (item->props, names);
  GVariantBuilder children;

  g_variant_builder_init (&children, G_VARIANT_TYPE ("av"));
  if (depth != 0)
    {
      for (guint i = 0; i < item->children->len; i++)
        g_variant_builder_add (&children, "v",
                               layout_of (g_ptr_array_index (item->children, i),
                                          depth > 0 ? depth - 1 : -1, names));
    }
  return g_variant_new ("(i@a{sv}av)", item->id, props, &children);
}

static GVariant *
default_property (const char *name)
{
  if (g_str_equal (name, "type"))
    return g_variant_new_string ("standard");
  if (g_str_equal (name, "label") || g_str_equal (name, "icon-name") || g_str_equal (name, "toggle-type") || g_str_equal (name, "children-display") || g_str_equal (name, "disposition"))
    return g_variant_new_string (name[0] == 'd' ? "normal" : "");
  if (g_str_equal (name, "enabled") || g_str_equal (name, "visible"))
    return g_variant_new_boolean (TRUE);
  if (g_str_equal (name, "toggle-state"))
    return g_variant_new_int32 (-1);
  if (g_str_equal (name, "icon-data"))
    return g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING, "", 0, TRUE, NULL, NULL);
  if (g_str_equal (name, "shortcut"))
    return g_variant_new_array (G_VARIANT_TYPE ("as"), NULL, 0);
  return NULL;
}

/* The full state of an item for ItemsPropertiesUpdated: hosts merge these
 * into what they hold, so a value that went back to its default must be
 * sent explicitly. */
static GVariant *
full_props (MenuItem *item)
{
  static const char *const restated[] = { "enabled", "visible", NULL };
  GVariantBuilder props;
  GVariantIter iter;
  const char *name;
  GVariant *value;

  g_variant_builder_init (&props, G_VARIANT_TYPE_VARDICT);
  g_variant_iter_init (&iter, item->props);
  while (g_variant_iter_next (&iter, "{&sv}", &name, &value))
    {
      g_variant_builder_add (&props, "{sv}", name, value);
      g_variant_unref (value);
    }
  for (guint i = 0; restated[i] != NULL; i++)
    {
      if (!g_variant_lookup (item->props, restated[i], "*", NULL))
        g_variant_builder_add (&props, "{sv}", restated[i], default_property (restated[i]));
    }
  return g_variant_builder_end (&props);
}

static GVariant *
removed_props (MenuItem *old_item,
               MenuItem *item)
{
  GVariantBuilder removed;
  GVariantIter iter;
  const char *name;

  g_variant_builder_init (&removed, G_VARIANT_TYPE_STRING_ARRAY);
  g_variant_iter_init (&iter, old_item->props);
  while (g_variant_iter_next (&iter, "{&s*}", &name, NULL))
    {
      if (!g_str_equal (name, "enabled") && !g_str_equal (name, "visible") && !g_variant_lookup (item->props, name, "*", NULL))
        g_variant_builder_add (&removed, "s", name);
    }
  return g_variant_builder_end (&removed);
}

/* Updates */

static gboolean
update_cb (gpointer user_data)
{
  PosternDbusmenuExporter *self = user_data;
  g_autoptr (MenuTree) old_tree = g_steal_pointer (&self->tree);
  g_autoptr (GVariant) old_layout = NULL;
  g_autoptr (GVariant) new_layout = NULL;
  GVariantBuilder updated;
  GVariantBuilder removed;

  self->update_source = 0;
  self->tree = build_tree (self, old_tree);

  old_layout = g_variant_ref_sink (layout_of (menu_tree_lookup (old_tree, 0), -1, NULL));
  new_layout = g_variant_ref_sink (layout_of (menu_tree_lookup (self->tree, 0), -1, NULL));
  if (g_variant_equal (old_layout, new_layout))
    return G_SOURCE_REMOVE;

  self->revision++;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REVISION]);

  if (self->registration_id == 0)
    return G_SOURCE_REMOVE;

  /* Dino's lesson: hosts apply diffs poorly, so restate every item. */
  g_variant_builder_init (&updated, G_VARIANT_TYPE ("a(ia{sv})"));
  g_variant_builder_init (&removed, G_VARIANT_TYPE ("a(ias)"));
  for (guint i = 0; i < self->tree->order->len; i++)
    {
      MenuItem *item = g_ptr_array_index (self->tree->order, i);
      MenuItem *old_item = menu_tree_lookup (old_tree, item->id);

      g_variant_builder_add (&updated, "(i@a{sv})", item->id, full_props (item));
      if (old_item != NULL)
        {
          g_autoptr (GVariant) names = g_variant_ref_sink (removed_props (old_item, item));

          if (g_variant_n_children (names) > 0)
            g_variant_builder_add (&removed, "(i@as)", item->id, names);
        }
    }
  g_dbus_connection_emit_signal (self->connection, NULL, self->object_path,
                                 DBUSMENU_INTERFACE, "ItemsPropertiesUpdated",
                                 g_variant_new ("(a(ia{sv})a(ias))", &updated, &removed),
                                 NULL);
  g_dbus_connection_emit_signal (self->connection, NULL, self->object_path,
                                 DBUSMENU_INTERFACE, "LayoutUpdated",
                                 g_variant_new ("(ui)", self->revision, 0), NULL);
  return G_SOURCE_REMOVE;
}

static void
queue_update (PosternDbusmenuExporter *self)
{
  if (self->update_source != 0)
    return;
  self->update_source = g_idle_add_full (G_PRIORITY_LOW, update_cb, self, NULL);
  g_source_set_name_by_id (self->update_source, "[postern] dbusmenu update");
}

static void
model_items_changed_cb (PosternDbusmenuExporter *self,
                        int position,
                        int removed,
                        int added,
                        GMenuModel *model)
{
  queue_update (self);
}

static void
action_changed_cb (PosternDbusmenuExporter *self)
{
  queue_update (self);
}

/* Clicks */

typedef struct
{
  GActionGroup *actions;
  char *action;
  GVariant *target;
} PendingActivation;

static void
pending_activation_free (gpointer data)
{
  PendingActivation *pending = data;

  g_object_unref (pending->actions);
  g_free (pending->action);
  g_clear_pointer (&pending->target, g_variant_unref);
  g_free (pending);
}

static void start_flush (PosternDbusmenuExporter *self);

static void
clicks_flushed_cb (GObject *object,
                   GAsyncResult *result,
                   gpointer user_data)
{
  g_autoptr (PosternDbusmenuExporter) self = user_data;
  guint n = self->n_flushing;

  g_dbus_connection_flush_finish (G_DBUS_CONNECTION (object), result, NULL);
  self->flushing = FALSE;
  self->n_flushing = 0;

  /* The replies to these clicks are out: run them, in click order. */
  for (guint i = 0; i < n && !g_queue_is_empty (&self->clicks); i++)
    {
      PendingActivation *pending = g_queue_pop_head (&self->clicks);

      /* The state may have changed while the reply was on its way out. */
      if (g_action_group_get_action_enabled (pending->actions, pending->action))
        g_action_group_activate_action (pending->actions, pending->action, pending->target);
      pending_activation_free (pending);
    }

  if (!g_queue_is_empty (&self->clicks))
    start_flush (self);
}

static void
start_flush (PosternDbusmenuExporter *self)
{
  self->flushing = TRUE;
  self->n_flushing = g_queue_get_length (&self->clicks);
  g_dbus_connection_flush (self->connection, NULL, clicks_flushed_cb, g_object_ref (self));
}

/* Activation waits until the reply is flushed: an action such as Quit must
 * not leave the host without its reply. Clicks run in the order they came,
 * one flush covering all that arrived before it started. */
static void
click_item (PosternDbusmenuExporter *self,
            MenuItem *item)
{
  PendingActivation *pending;

  if (item->action == NULL || !g_action_group_get_action_enabled (self->actions, item->action) || !target_fits (self, item->action, item->target))
    {
      g_debug ("Ignoring a click on menu item %d: nothing to activate", item->id);
      return;
    }

  pending = g_new0 (PendingActivation, 1);
  pending->actions = g_object_ref (self->actions);
  pending->action = g_strdup (item->action);
  pending->target = item->target ? g_variant_ref (item->target) : NULL;
  g_queue_push_tail (&self->clicks, pending);
  if (!self->flushing)
    start_flush (self);
}

static void
handle_event (PosternDbusmenuExporter *self,
              MenuItem *item,
              const char *event_id)
{
  /* "hovered", "opened" and "closed" need nothing from us. */
  if (g_str_equal (event_id, "clicked"))
    click_item (self, item);
}

/* Method calls */

static void
return_unknown_id (GDBusMethodInvocation *invocation,
                   int id)
{
  g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                         "Unknown menu item %d", id);
}

static void
menu_method_call_cb (GDBusConnection *connection,
                     const char *sender,
                     const char *object_path,
                     const char *interface_name,
                     const char *method_name,
                     GVariant *parameters,
                     GDBusMethodInvocation *invocation,
                     gpointer user_data)
{
  PosternDbusmenuExporter *self = user_data;

  if (g_str_equal (method_name, "GetLayout"))
    {
      g_autofree const char **names = NULL;
      MenuItem *item;
      int parent_id;
      int depth;

      g_variant_get (parameters, "(ii^a&s)", &parent_id, &depth, &names);
      item = menu_tree_lookup (self->tree, parent_id);
      if (item == NULL)
        {
          return_unknown_id (invocation, parent_id);
          return;
        }
      g_dbus_method_invocation_return_value (invocation,
                                             g_variant_new ("(u@(ia{sv}av))", self->revision,
                                                            layout_of (item, depth, names)));
    }
  else if (g_str_equal (method_name, "GetGroupProperties"))
    {
      g_autoptr (GVariant) ids = NULL;
      g_autofree const char **names = NULL;
      GVariantBuilder result;
      gsize n_ids;
      const gint32 *id_values;

      g_variant_get (parameters, "(@ai^a&s)", &ids, &names);
      id_values = g_variant_get_fixed_array (ids, &n_ids, sizeof (gint32));
      g_variant_builder_init (&result, G_VARIANT_TYPE ("a(ia{sv})"));
      if (n_ids == 0)
        {
          for (guint i = 0; i < self->tree->order->len; i++)
            {
              MenuItem *item = g_ptr_array_index (self->tree->order, i);
              g_autoptr (GVariant) props = filter_props (item->props, names);

              g_variant_builder_add (&result, "(i@a{sv})", item->id, props);
            }
        }
      else
        {
          /* Unknown ids are skipped, as libdbusmenu does. */
          for (gsize i = 0; i < n_ids; i++)
            {
              MenuItem *item = menu_tree_lookup (self->tree, id_values[i]);

              g_autoptr (GVariant) props = NULL;

              if (item == NULL)
                continue;
              props = filter_props (item->props, names);
              g_variant_builder_add (&result, "(i@a{sv})", item->id, props);
            }
        }
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(a(ia{sv}))", &result));
    }
  else if (g_str_equal (method_name, "GetProperty"))
    {
      const char *name = NULL;
      MenuItem *item;
      GVariant *value;
      int id;

      g_variant_get (parameters, "(i&s)", &id, &name);
      item = menu_tree_lookup (self->tree, id);
      if (item == NULL)
        {
          return_unknown_id (invocation, id);
          return;
        }
      value = g_variant_lookup_value (item->props, name, NULL);
      if (value == NULL)
        {
          value = default_property (name);
          if (value != NULL)
            g_variant_ref_sink (value);
        }
      if (value == NULL)
        {
          g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                                 "Unknown property “%s”", name);
          return;
        }
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(@v)", g_variant_new_variant (value)));
      g_variant_unref (value);
    }
  else if (g_str_equal (method_name, "Event"))
    {
      const char *event_id = NULL;
      MenuItem *item;
      int id;

      g_variant_get (parameters, "(i&s*u)", &id, &event_id, NULL, NULL);
      item = menu_tree_lookup (self->tree, id);
      if (item == NULL)
        {
          return_unknown_id (invocation, id);
          return;
        }
      g_dbus_method_invocation_return_value (invocation, NULL);
      handle_event (self, item, event_id);
    }
  else if (g_str_equal (method_name, "EventGroup"))
    {
      g_autoptr (GVariantIter) iter = NULL;
      g_autoptr (GPtrArray) clicked = g_ptr_array_new ();
      GVariantBuilder errors;
      const char *event_id;
      gsize n_events;
      guint n_errors = 0;
      int id;

      g_variant_get (parameters, "(a(isvu))", &iter);
      n_events = g_variant_iter_n_children (iter);
      g_variant_builder_init (&errors, G_VARIANT_TYPE ("ai"));
      while (g_variant_iter_next (iter, "(i&s*u)", &id, &event_id, NULL, NULL))
        {
          MenuItem *item = menu_tree_lookup (self->tree, id);

          if (item == NULL)
            {
              g_variant_builder_add (&errors, "i", id);
              n_errors++;
            }
          else if (g_str_equal (event_id, "clicked"))
            {
              g_ptr_array_add (clicked, item);
            }
        }
      if (n_events > 0 && n_errors == n_events)
        {
          g_variant_builder_clear (&errors);
          g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                                 "No event had a known menu item");
          return;
        }
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(ai)", &errors));
      for (guint i = 0; i < clicked->len; i++)
        click_item (self, g_ptr_array_index (clicked, i));
    }
  else if (g_str_equal (method_name, "AboutToShow"))
    {
      int id;

      g_variant_get (parameters, "(i)", &id);
      if (menu_tree_lookup (self->tree, id) == NULL)
        {
          return_unknown_id (invocation, id);
          return;
        }
      /* The tree is always current: nothing to fetch before showing. */
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(b)", FALSE));
    }
  else if (g_str_equal (method_name, "AboutToShowGroup"))
    {
      g_autoptr (GVariant) ids = NULL;
      GVariantBuilder errors;
      const gint32 *id_values;
      gsize n_ids;

      g_variant_get (parameters, "(@ai)", &ids);
      id_values = g_variant_get_fixed_array (ids, &n_ids, sizeof (gint32));
      g_variant_builder_init (&errors, G_VARIANT_TYPE ("ai"));
      for (gsize i = 0; i < n_ids; i++)
        {
          if (menu_tree_lookup (self->tree, id_values[i]) == NULL)
            g_variant_builder_add (&errors, "i", id_values[i]);
        }
      g_dbus_method_invocation_return_value (invocation,
                                             g_variant_new ("(@aiai)",
                                                            g_variant_new_array (G_VARIANT_TYPE_INT32, NULL, 0),
                                                            &errors));
    }
  else
    {
      g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD,
                                             "Unknown method %s", method_name);
    }
}

static GVariant *
menu_get_property_cb (GDBusConnection *connection,
                      const char *sender,
                      const char *object_path,
                      const char *interface_name,
                      const char *property_name,
                      GError **error,
                      gpointer user_data)
{
  PosternDbusmenuExporter *self = user_data;

  if (g_str_equal (property_name, "Version"))
    return g_variant_new_uint32 (3);
  if (g_str_equal (property_name, "TextDirection"))
    return g_variant_new_string (self->text_direction);
  if (g_str_equal (property_name, "Status"))
    return g_variant_new_string (self->status);
  if (g_str_equal (property_name, "IconThemePath"))
    return g_variant_new_array (G_VARIANT_TYPE_STRING, NULL, 0);

  g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_PROPERTY,
               "Unknown property %s", property_name);
  return NULL;
}

static const GDBusInterfaceVTable menu_vtable = {
  .method_call = menu_method_call_cb,
  .get_property = menu_get_property_cb,
};

static void
emit_property_changed (PosternDbusmenuExporter *self,
                       const char *name,
                       GVariant *value)
{
  GVariantBuilder changed;

  if (self->registration_id == 0)
    {
      g_variant_unref (g_variant_ref_sink (value));
      return;
    }

  g_variant_builder_init (&changed, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&changed, "{sv}", name, value);
  g_dbus_connection_emit_signal (self->connection, NULL, self->object_path,
                                 "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                 g_variant_new ("(sa{sv}as)", DBUSMENU_INTERFACE, &changed, NULL),
                                 NULL);
}

/* GObject */

static gboolean export(PosternDbusmenuExporter *self,
                       GError **error)
{
  self->registration_id = g_dbus_connection_register_object (self->connection, self->object_path,
                                                             get_interface_info (), &menu_vtable,
                                                             self, NULL, error);
  return self->registration_id != 0;
}

static void
postern_dbusmenu_exporter_constructed (GObject *object)
{
  PosternDbusmenuExporter *self = POSTERN_DBUSMENU_EXPORTER (object);

  G_OBJECT_CLASS (postern_dbusmenu_exporter_parent_class)->constructed (object);

  g_assert (G_IS_MENU_MODEL (self->model));
  g_assert (G_IS_ACTION_GROUP (self->actions));

  if (self->object_path == NULL)
    self->object_path = g_strdup (POSTERN_DBUSMENU_OBJECT_PATH);

  self->action_handlers[0] = g_signal_connect_object (self->actions, "action-added",
                                                      G_CALLBACK (action_changed_cb), self,
                                                      G_CONNECT_SWAPPED);
  self->action_handlers[1] = g_signal_connect_object (self->actions, "action-removed",
                                                      G_CALLBACK (action_changed_cb), self,
                                                      G_CONNECT_SWAPPED);
  self->action_handlers[2] = g_signal_connect_object (self->actions, "action-enabled-changed",
                                                      G_CALLBACK (action_changed_cb), self,
                                                      G_CONNECT_SWAPPED);
  self->action_handlers[3] = g_signal_connect_object (self->actions, "action-state-changed",
                                                      G_CALLBACK (action_changed_cb), self,
                                                      G_CONNECT_SWAPPED);
  self->tree = build_tree (self, NULL);
}

static void
postern_dbusmenu_exporter_dispose (GObject *object)
{
  PosternDbusmenuExporter *self = POSTERN_DBUSMENU_EXPORTER (object);

  if (self->registration_id != 0)
    {
      g_dbus_connection_unregister_object (self->connection, self->registration_id);
      self->registration_id = 0;
    }
  g_clear_handle_id (&self->update_source, g_source_remove);
  if (self->watched_models != NULL)
    g_ptr_array_set_size (self->watched_models, 0);
  for (guint i = 0; i < G_N_ELEMENTS (self->action_handlers); i++)
    g_clear_signal_handler (&self->action_handlers[i], self->actions);

  G_OBJECT_CLASS (postern_dbusmenu_exporter_parent_class)->dispose (object);
}

static void
postern_dbusmenu_exporter_finalize (GObject *object)
{
  PosternDbusmenuExporter *self = POSTERN_DBUSMENU_EXPORTER (object);

  g_clear_pointer (&self->tree, menu_tree_free);
  g_clear_pointer (&self->watched_models, g_ptr_array_unref);
  g_queue_clear_full (&self->clicks, pending_activation_free);
  g_clear_object (&self->connection);
  g_clear_object (&self->model);
  g_clear_object (&self->actions);
  g_free (self->object_path);
  g_free (self->status);
  g_free (self->text_direction);

  G_OBJECT_CLASS (postern_dbusmenu_exporter_parent_class)->finalize (object);
}

static void
postern_dbusmenu_exporter_get_property (GObject *object,
                                        guint prop_id,
                                        GValue *value,
                                        GParamSpec *pspec)
{
  PosternDbusmenuExporter *self = POSTERN_DBUSMENU_EXPORTER (object);

  switch (prop_id)
    {
      case PROP_CONNECTION:
        g_value_set_object (value, self->connection);
        break;
      case PROP_OBJECT_PATH:
        g_value_set_string (value, self->object_path);
        break;
      case PROP_MODEL:
        g_value_set_object (value, self->model);
        break;
      case PROP_ACTIONS:
        g_value_set_object (value, self->actions);
        break;
      case PROP_STATUS:
        g_value_set_string (value, self->status);
        break;
      case PROP_TEXT_DIRECTION:
        g_value_set_string (value, self->text_direction);
        break;
      case PROP_REVISION:
        g_value_set_uint (value, self->revision);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
postern_dbusmenu_exporter_set_property (GObject *object,
                                        guint prop_id,
                                        const GValue *value,
                                        GParamSpec *pspec)
{
  PosternDbusmenuExporter *self = POSTERN_DBUSMENU_EXPORTER (object);

  switch (prop_id)
    {
      case PROP_CONNECTION:
        self->connection = g_value_dup_object (value);
        break;
      case PROP_OBJECT_PATH:
        self->object_path = g_value_dup_string (value);
        break;
      case PROP_MODEL:
        self->model = g_value_dup_object (value);
        break;
      case PROP_ACTIONS:
        self->actions = g_value_dup_object (value);
        break;
      case PROP_STATUS:
        postern_dbusmenu_exporter_set_status (self, g_value_get_string (value));
        break;
      case PROP_TEXT_DIRECTION:
        postern_dbusmenu_exporter_set_text_direction (self, g_value_get_string (value));
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
postern_dbusmenu_exporter_class_init (PosternDbusmenuExporterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = postern_dbusmenu_exporter_constructed;
  object_class->dispose = postern_dbusmenu_exporter_dispose;
  object_class->finalize = postern_dbusmenu_exporter_finalize;
  object_class->get_property = postern_dbusmenu_exporter_get_property;
  object_class->set_property = postern_dbusmenu_exporter_set_property;

  properties[PROP_CONNECTION] = g_param_spec_object ("connection", NULL, NULL, G_TYPE_DBUS_CONNECTION,
                                                     G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_OBJECT_PATH] = g_param_spec_string ("object-path", NULL, NULL, NULL,
                                                      G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_MODEL] = g_param_spec_object ("model", NULL, NULL, G_TYPE_MENU_MODEL,
                                                G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ACTIONS] = g_param_spec_object ("actions", NULL, NULL, G_TYPE_ACTION_GROUP,
                                                  G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_STATUS] = g_param_spec_string ("status", NULL, NULL, "normal",
                                                 G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_TEXT_DIRECTION] = g_param_spec_string ("text-direction", NULL, NULL, "ltr",
                                                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_REVISION] = g_param_spec_uint ("revision", NULL, NULL, 0, G_MAXUINT, 1,
                                                 G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
postern_dbusmenu_exporter_init (PosternDbusmenuExporter *self)
{
  self->revision = 1;
  self->status = g_strdup ("normal");
  self->text_direction = g_strdup ("ltr");
  self->watched_models = g_ptr_array_new_with_free_func (watched_model_free);
}

/**
 * postern_dbusmenu_exporter_new:
 * @connection: the connection to export on
 * @object_path: (nullable): where, %NULL for "/MenuBar"
 * @model: the menu
 * @actions: the actions the menu's items name ("app.x" also finds "x")
 * @error: return location for an error
 *
 * Exports @model as com.canonical.dbusmenu until the exporter is disposed.
 *
 * Returns: (transfer full): the exporter, or %NULL if the path is taken
 */
PosternDbusmenuExporter *
postern_dbusmenu_exporter_new (GDBusConnection *connection,
                               const char *object_path,
                               GMenuModel *model,
                               GActionGroup *actions,
                               GError **error)
{
  g_autoptr (PosternDbusmenuExporter) self = NULL;

  g_return_val_if_fail (G_IS_DBUS_CONNECTION (connection), NULL);
  g_return_val_if_fail (object_path == NULL || g_variant_is_object_path (object_path), NULL);
  g_return_val_if_fail (G_IS_MENU_MODEL (model), NULL);
  g_return_val_if_fail (G_IS_ACTION_GROUP (actions), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (POSTERN_TYPE_DBUSMENU_EXPORTER,
                       "connection", connection,
                       "object-path", object_path,
                       "model", model,
                       "actions", actions,
                       NULL);
  if (!export(self, error))
    return NULL;
  return g_steal_pointer (&self);
}

const char *
postern_dbusmenu_exporter_get_object_path (PosternDbusmenuExporter *self)
{
  g_return_val_if_fail (POSTERN_IS_DBUSMENU_EXPORTER (self), NULL);
  return self->object_path;
}

GMenuModel *
postern_dbusmenu_exporter_get_model (PosternDbusmenuExporter *self)
{
  g_return_val_if_fail (POSTERN_IS_DBUSMENU_EXPORTER (self), NULL);
  return self->model;
}

GActionGroup *
postern_dbusmenu_exporter_get_actions (PosternDbusmenuExporter *self)
{
  g_return_val_if_fail (POSTERN_IS_DBUSMENU_EXPORTER (self), NULL);
  return self->actions;
}

/**
 * postern_dbusmenu_exporter_get_revision:
 *
 * Returns: the layout revision, incremented with every LayoutUpdated
 */
guint
postern_dbusmenu_exporter_get_revision (PosternDbusmenuExporter *self)
{
  g_return_val_if_fail (POSTERN_IS_DBUSMENU_EXPORTER (self), 0);
  return self->revision;
}

const char *
postern_dbusmenu_exporter_get_status (PosternDbusmenuExporter *self)
{
  g_return_val_if_fail (POSTERN_IS_DBUSMENU_EXPORTER (self), NULL);
  return self->status;
}

/**
 * postern_dbusmenu_exporter_set_status:
 * @status: "normal", or "notice" to ask the host for attention
 */
void
postern_dbusmenu_exporter_set_status (PosternDbusmenuExporter *self,
                                      const char *status)
{
  g_return_if_fail (POSTERN_IS_DBUSMENU_EXPORTER (self));

  if (status == NULL)
    status = "normal";
  if (g_strcmp0 (self->status, status) == 0)
    return;
  g_free (self->status);
  self->status = g_strdup (status);
  emit_property_changed (self, "Status", g_variant_new_string (status));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
}

const char *
postern_dbusmenu_exporter_get_text_direction (PosternDbusmenuExporter *self)
{
  g_return_val_if_fail (POSTERN_IS_DBUSMENU_EXPORTER (self), NULL);
  return self->text_direction;
}

/**
 * postern_dbusmenu_exporter_set_text_direction:
 * @text_direction: "ltr" or "rtl"
 */
void
postern_dbusmenu_exporter_set_text_direction (PosternDbusmenuExporter *self,
                                              const char *text_direction)
{
  g_return_if_fail (POSTERN_IS_DBUSMENU_EXPORTER (self));

  if (g_strcmp0 (text_direction, "rtl") != 0)
    text_direction = "ltr";
  if (g_strcmp0 (self->text_direction, text_direction) == 0)
    return;
  g_free (self->text_direction);
  self->text_direction = g_strdup (text_direction);
  emit_property_changed (self, "TextDirection", g_variant_new_string (text_direction));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TEXT_DIRECTION]);
}
