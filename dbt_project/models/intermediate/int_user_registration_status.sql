{#
  Registration status of every registered user and the channel that brought them (macro
  user_registration_status): what the SCD2 snapshot snap_user_registration_status tracks, as a view.
#}
{{ user_registration_status(ref('registration_attribution')) }}
